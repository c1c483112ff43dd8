"""The one base class of the cockpit's dialogs: a dialog closes once, whatever keys arrive.

A terminal delivers keys faster than a screen goes away: a second Enter, an Escape or a
click queued behind the key that closed a dialog still reaches it. Textual's ``dismiss``
pops whatever screen is on top, so a second one would close the dashboard under the
dialog (or fail with "Can't pop screen") and answer the awaiting worker twice. Here only
the first close counts; every later one is ignored.
"""

from __future__ import annotations

from typing import TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

__all__ = ["Dialog"]

ResultT = TypeVar("ResultT")


async def _nothing() -> None:
    return None


class Dialog(ModalScreen[ResultT]):
    """A modal screen that is dismissed at most once, and only while it is on top."""

    # not ``_closed``: that name is Textual's own, for a message pump that has stopped
    _answered: bool = False

    @property
    def answered(self) -> bool:
        """True once the dialog has been given its answer (it may still be on screen)."""
        return self._answered

    def dismiss(self, result: ResultT | None = None) -> AwaitComplete:
        if self._answered or not self.is_attached or self.app.screen is not self:
            return AwaitComplete(_nothing())
        self._answered = True
        return super().dismiss(result)

    async def action_dismiss(self, result: ResultT | None = None) -> None:
        # Textual's version first waits for pending callbacks; a dialog already answered
        # must not reach ``dismiss`` a second time through it either
        if not self._answered:
            await super().action_dismiss(result)
