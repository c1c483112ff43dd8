"""Reusable Textual widgets, each a view over one signal or state type; none does I/O."""
