"""Faults the cockpit survives: a journal that cannot be written, a disk that fills, a
damaged journal line. Each test plays the fault and checks what the responder sees and
what the record keeps."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_helpers import cockpit, pane_text, screen_text, static_text
from sandbox_helpers import need_binary, running_sandbox, wait_until
from textual.widgets import Static

from tui.timeline import Journal


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``chattr +i``: not even root may write the file while the block runs."""
    chattr = need_binary("chattr")
    subprocess.run([chattr, "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def _kinds(journal: Journal) -> list[str]:
    return [e.kind for e in Journal(journal.directory).load().events]


async def test_an_unwritable_journal_never_freezes_a_pane_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-healthy") as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            journal = app.journal
            assert journal is not None
            await wait_until(lambda: "Operational" in screen_text(app), 20, 0.1, "the status page")
            before = _kinds(journal)
            with immutable(journal.path):
                await sb.set_fault("status_page", "5xx")
                # the pane says so as fast as a cockpit whose journal is fine would
                await wait_until(lambda: pane_text(app, "status_page"), 10, 0.1, "the fault")
                banner = app.screen.query_one("#journal-banner", Static)
                said = await wait_until(
                    lambda: banner.has_class("-shown") and static_text(banner), 10, 0.1
                )
                assert "The journal cannot be written since" in said
                assert "held in memory" in said
                assert _kinds(journal) == before  # nothing reached the file meanwhile
                held = [e.kind for e in journal.held]
                assert "source_fault" in held
                await sb.clear_faults("status_page")
                await wait_until(
                    lambda: not pane_text(app, "status_page"), 10, 0.1, "the pane to recover"
                )
            # writable again: what was held is written, in order, and the banner goes
            await wait_until(lambda: not banner.has_class("-shown"), 10, 0.1, "the flush")
            after = _kinds(journal)
            assert after[: len(before)] == before
            written = after[len(before) :]
            assert written[: len(held)] == held
            assert "source_recovered" in written
            assert not journal.held
            events = Journal(journal.directory).load()
            assert not events.warnings
