"""The simulated vendors as the world shows them: their status pages and our service's /health."""
