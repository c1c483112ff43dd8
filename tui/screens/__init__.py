"""Textual screens of the cockpit."""
