"""The one base class of the cockpit's dialogs: a dialog closes once, whatever keys arrive.

A terminal delivers keys faster than a screen goes away: a second Enter, an Escape or a
click queued behind the key that closed a dialog still reaches it. Textual's ``dismiss``
pops whatever screen is on top, so a second one would close the dashboard under the
dialog (or fail with "Can't pop screen") and answer the awaiting worker twice. Here only
the first close counts; every later one is ignored.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from textual.await_complete import AwaitComplete
from textual.css.query import NoMatches
from textual.screen import ModalScreen

__all__ = ["Dialog", "dialog_css", "while_shown"]

ResultT = TypeVar("ResultT")

_DIALOG_CSS = """
    {name} {{
        align: center middle;
        & > .box {{
            width: 96; max-width: 100%; height: auto; max-height: 90%;
            border: round $accent; background: $surface; padding: 0 1;
        }}
        & .buttons {{ height: auto; align-horizontal: right; margin-top: 1; }}
        & .buttons Button {{ margin-left: 1; }}
        & .error {{ color: $text-error; }}
        & .hint {{ color: $text-warning; }}
        & .muted {{ color: $text-muted; }}
    }}
"""


def dialog_css(name: str, extra: str = "") -> str:
    """The look every dialog shares (a centred box, its buttons, errors and hints), for the
    dialog class ``name``, and ``extra`` rules of its own."""
    return _DIALOG_CSS.format(name=name) + extra


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


_Method = TypeVar("_Method", bound=Callable[..., None])
_WAITING = "_while_shown_waiting"


def _show_waiting(screen: Any) -> None:
    """Show the updates that came before the screen was mounted, oldest first."""
    if not screen.is_mounted:
        screen.call_later(_show_waiting, screen)
        return
    for show in screen.__dict__.pop(_WAITING, []):
        with contextlib.suppress(NoMatches):
            show()


def while_shown(method: _Method) -> _Method:
    """For updates a worker sends to a screen that may not be shown yet or may already be
    closed: one that comes while the screen is still mounting (its ``on_mount`` may have run
    already) waits in the screen's queue until it is; once the screen is gone (its widgets
    removed, its queue closed), the update is dropped. Updates are shown in the order they
    were sent: one that comes while earlier ones still wait, waits behind them."""

    @functools.wraps(method)
    def update(self: Any, *args: Any, **kwargs: Any) -> None:
        waiting: list[Callable[[], None]] | None = self.__dict__.get(_WAITING)
        if waiting is None and self.is_mounted:
            with contextlib.suppress(NoMatches):
                method(self, *args, **kwargs)
            return
        if waiting is None:
            waiting = self.__dict__[_WAITING] = []
            # processed after mounting ends; refused (dropped) by a closed screen
            self.call_later(_show_waiting, self)
        waiting.append(functools.partial(method, self, *args, **kwargs))

    return update  # type: ignore[return-value]
