"""Async I/O against the backends an incident is watched through; no Textual here."""
