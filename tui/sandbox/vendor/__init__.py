"""The simulated vendors: their status pages, our service's /health, and the HTTP faces of both."""
