"""Text from a backend or a file made safe to print: no control character reaches a terminal.

A log line, a status page's body or a runbook field can carry terminal escapes
(``ESC]0;title BEL`` retitles the window, ``ESC]52;c;... BEL`` writes the clipboard,
``ESC[2J`` clears the screen). Each control character is shown as a visible symbol
instead (ESC as ␛), so the rest of the sequence is plain text. Bidirectional overrides
and isolates (U+202A-202E, U+2066-2069) would reorder what a person reads without a
trace; they are shown by name (``⟨U+202E⟩``). Nothing printable is removed.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment

__all__ = ["CONTROL_CHARACTERS", "Inert", "inert", "inert_block"]

_TABLE: dict[int, str | int] = {c: 0x2400 + c for c in range(0x20) if c != 0x09}
_TABLE[0x7F] = 0x2421
_TABLE.update({c: 0xFFFD for c in range(0x80, 0xA0)})
# line and paragraph separators break a line where a terminal would not show why
_TABLE.update({c: f"⟨U+{c:04X}⟩" for c in (0x2028, 0x2029)})
_TABLE.update({c: f"⟨U+{c:04X}⟩" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})

_BLOCK = dict(_TABLE)
del _BLOCK[0x0A]

CONTROL_CHARACTERS = frozenset(
    chr(c)
    for c in (*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029)
    if c not in (0x09, 0x0A)
) | frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
"""What must never reach a terminal from our data (tab and newline are layout)."""


def inert(text: str) -> str:
    """One line of text with every control character shown as a visible symbol (a newline
    too: ␊), bidi overrides by name, and tabs as spaces."""
    return text.translate(_TABLE).expandtabs(4)


def inert_block(text: str) -> str:
    """Like :func:`inert`, but newlines stay newlines: for text printed as several lines."""
    return text.translate(_BLOCK).expandtabs(4)


class Inert:
    """A Rich renderable printed with :func:`inert_block` applied to every piece of text it
    renders, so a table or panel built from a file's fields cannot carry an escape out.
    Rich's own styling is kept: it travels as styles, not as text."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from _inert_segments(console.render(self.renderable, options))


def _inert_segments(segments: Iterable[Segment]) -> Iterable[Segment]:
    for segment in segments:
        if segment.control:
            # Rich's own cursor moves; none come from our data
            yield segment
        else:
            yield Segment(segment.text.translate(_BLOCK), segment.style)
