"""Benchmarks of the cockpit against the tools an on-call engineer would otherwise use:
log ingest, key latency under load, memory, start-up, export and idle CPU."""

BENCHMARKS: tuple[str, ...] = ("ingest", "keys", "startup", "export", "idle", "memory")
"""Module names under ``benchmarks``, in the order ``python -m benchmarks`` runs them. Memory
runs last: after its million lines the machine is still taking back the memory they used,
which slows the next process's allocations (export by ~15% here)."""
