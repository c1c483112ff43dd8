"""The simulated metrics: the vendor counters, their series, and a PromQL engine over them."""
