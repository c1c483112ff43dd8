"""What every test shares: the long property tests get a longer time limit, and a state
folder, config folder and login name of the test's own."""

from __future__ import annotations

from pathlib import Path

import pytest

SLOW_TIMEOUT = 1800.0
"""Seconds a test marked ``slow`` may take (the others: ``timeout`` in pyproject.toml)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))


@pytest.fixture
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Incidents and config under ``tmp_path`` (as ``state/`` and ``config/``), and the
    responder is ``alice``; returns ``tmp_path``."""
    monkeypatch.setenv("INCIDENT_TUI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("USER", "alice")
    return tmp_path
