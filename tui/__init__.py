"""incident-tui: the on-call engineer's terminal cockpit for a failing vendor integration."""

__version__ = "0.1.0"
