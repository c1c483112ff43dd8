"""Finding runbooks: the bundled ones, the user folder and ``--runbooks`` folders."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tui.errors import Problem, RunbookError
from tui.runbook.loader import load_runbook
from tui.runbook.related import with_related
from tui.runbook.schema import Runbook

# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class RunbookSource:
    """Where a runbook came from, and whether it replaces a bundled one."""

    runbook: Runbook
    path: Path
    origin: Literal["bundled", "user"]
    replaces: Path | None = None


def user_runbook_dir() -> Path:
    """``$XDG_CONFIG_HOME/incident-tui/runbooks`` (``~/.config/...`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "incident-tui" / "runbooks"


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


@dataclass
class Catalog:
    """Every runbook found, by id, and the problems of the files that failed to load."""

    runbooks: dict[str, RunbookSource]
    problems: list[Problem]

    def get(self, runbook_id: str) -> Runbook:
        """The runbook with this id; :class:`RunbookError` naming the known ids otherwise."""
        source = self.runbooks.get(runbook_id)
        if source is None:
            for problem in self.problems:
                if Path(problem.path).stem == runbook_id:
                    raise RunbookError(self._problems_of(problem.path))
            known = ", ".join(sorted(self.runbooks)) or "none"
            raise RunbookError(
                Problem("runbooks", None, "", f'no runbook with id "{runbook_id}" (known: {known})')
            )
        return source.runbook

    def _problems_of(self, path: str) -> list[Problem]:
        return [p for p in self.problems if p.path == path]


def discover_runbooks(extra_dirs: Iterable[Path | str] = ()) -> Catalog:
    """Bundled runbooks, then the user dir, then each ``--runbooks DIR``; a later file with
    the same id replaces an earlier one. A file that fails to load is left out and its
    problems are kept in :attr:`Catalog.problems`."""
    from runbooks import BUNDLED_DIR

    found: dict[str, RunbookSource] = {}
    problems: list[Problem] = []
    folders: list[tuple[Path, Literal["bundled", "user"]]] = [(BUNDLED_DIR, "bundled")]
    folders += [(user_runbook_dir(), "user")]
    folders += [(Path(d), "user") for d in extra_dirs]
    for folder, origin in folders:
        if origin == "user" and folder != user_runbook_dir() and not folder.is_dir():
            problems.append(Problem(str(folder), None, "", "is not a folder of runbooks"))
            continue
        ids_here: dict[str, Path] = {}
        for file in _yaml_files(folder):
            try:
                book = load_runbook(file)
            except RunbookError as exc:
                problems += exc.problems
                continue
            if book.id in ids_here:
                problems.append(
                    Problem(
                        str(file),
                        None,
                        "id",
                        f'duplicate runbook id "{book.id}" (also in {ids_here[book.id]})',
                    )
                )
                continue
            ids_here[book.id] = file
            previous = found.get(book.id)
            found[book.id] = RunbookSource(
                book, file, origin, replaces=previous.path if previous else None
            )
    books = {book_id: source.runbook for book_id, source in found.items()}
    for book_id, source in found.items():
        if source.runbook.related:
            merged, unmet = with_related(source.runbook, books)
            found[book_id] = dataclasses.replace(source, runbook=merged)
            problems += [Problem(str(source.path), None, "related", said) for said in unmet]
    return Catalog(found, problems)
