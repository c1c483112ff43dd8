"""The simulated vendor, cluster and metrics world behind `incident-tui demo` and the tests."""
