"""What every test shares: the long property tests get a longer time limit."""

from __future__ import annotations

import pytest

SLOW_TIMEOUT = 1800.0
"""Seconds a test marked ``slow`` may take (the others: ``timeout`` in pyproject.toml)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))
