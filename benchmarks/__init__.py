"""Benchmarks of the cockpit against the tools an on-call engineer would otherwise use:
log ingest, key latency under load, memory, start-up, export and idle CPU."""

BENCHMARKS: tuple[str, ...] = ("ingest", "keys", "memory", "startup", "export", "idle")
"""Module names under ``benchmarks``, in the order ``python -m benchmarks`` runs them."""
