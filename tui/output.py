"""What the command line prints: every line goes out inert, whatever backend or file it
quotes (see :mod:`tui.inert`), so no command can retitle a terminal or write its clipboard."""

from __future__ import annotations

import click
from rich.console import Console, RenderableType

from tui.inert import Inert, inert_block

__all__ = ["echo", "show"]


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print text (several lines allowed) to stdout, or to stderr with ``err``."""
    click.echo(inert_block(message), err=err, nl=nl)


def show(renderable: RenderableType, *, err: bool = False) -> None:
    """Print a Rich renderable (tables, panels) with its text made inert; Rich's own
    styling still reaches a terminal that wants it."""
    Console(stderr=err).print(Inert(renderable))
