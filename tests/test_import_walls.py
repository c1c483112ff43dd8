"""The walls of the house, read from every module's imports (those inside functions too):
the engine knows nothing of Textual or the screens, widgets do no I/O and know nothing of
the record, production code never imports the sandbox, nothing imports in a circle, and
no module grows past what a reader can hold."""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tui", "widgets", "runbooks")
MAX_LINES = 700

ENGINE = (
    "tui.act",
    "tui.conditions",
    "tui.decision",
    "tui.errors",
    "tui.inert",
    "tui.record",
    "tui.runbook",
    "tui.settings",
    "tui.signals",
    "tui.sources",
)
"""What runs without a screen: it must not import Textual, the screens, the app or widgets."""

UI = ("textual", "tui.screens", "tui.app", "widgets")

WIDGET_MAY_IMPORT = (
    "tui.decision",
    "tui.inert",
    "tui.record.event",
    "tui.runbook",
    "tui.signals",
    "widgets",
)
"""Widgets are views over signals and small view types: of the project, only these."""

IO = (
    "aiohttp",
    "asyncio.subprocess",
    "httpx",
    "kubernetes",
    "prometheus_api_client",
    "requests",
    "shutil",
    "socket",
    "subprocess",
    "urllib.request",
)

SANDBOX_USERS = ("tui.sandbox", "tui.cli.demo", "tui.cli.sandbox", "tui.cli.screenshots")
"""The sandbox's own modules, and the commands that start it (``demo``, ``sandbox``,
``screenshots``)."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, name: str) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports at run time (not under ``if TYPE_CHECKING``), with
    its line; ``from a import b`` names ``a.b`` when that is a module of the project."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    known = modules_cache()
    seen: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name not in seen:
                    seen.add(alias.name)
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                target = full if full in known else base
                if target not in seen:
                    seen.add(target)
                    yield target, node.lineno


_MODULES: dict[str, Path] = {}


def modules_cache() -> dict[str, Path]:
    if not _MODULES:
        _MODULES.update(modules())
    return _MODULES


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def graph() -> dict[str, dict[str, int]]:
    known = modules_cache()
    edges: dict[str, dict[str, int]] = {}
    for name, path in known.items():
        edges[name] = {}
        for target, line in imports(path, name):
            if target in known and target != name:
                edges[name].setdefault(target, line)
    return edges


def test_the_engine_never_imports_textual_or_the_screens() -> None:
    wrong = [
        f"{name}:{line} imports {target}"
        for name, path in modules_cache().items()
        if under(name, ENGINE)
        for target, line in imports(path, name)
        if under(target, UI)
    ]
    assert not wrong, "\n".join(wrong)


def test_widgets_do_no_io_and_know_nothing_of_the_record() -> None:
    wrong = []
    for name, path in modules_cache().items():
        if not under(name, ("widgets",)):
            continue
        for target, line in imports(path, name):
            ours = under(target, PACKAGES)
            if under(target, IO) or (ours and not under(target, WIDGET_MAY_IMPORT)):
                wrong.append(f"{name}:{line} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_production_code_never_imports_the_sandbox() -> None:
    wrong = [
        f"{name}:{line} imports {target}"
        for name, path in modules_cache().items()
        if not under(name, SANDBOX_USERS)
        for target, line in imports(path, name)
        if under(target, ("tui.sandbox",))
    ]
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_itself_through_others() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in edges[node]:
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in state:
            visit(node)
    said = [
        " -> ".join(f"{a} (line {edges[a][b]})" for a, b in itertools.pairwise(cycle))
        + f" -> {cycle[-1]}"
        for cycle in cycles
    ]
    assert not cycles, "import cycles:\n" + "\n".join(said)


def test_no_module_is_longer_than_a_reader_can_hold() -> None:
    long = {
        name: len(path.read_text().splitlines())
        for name, path in modules_cache().items()
        if len(path.read_text().splitlines()) > MAX_LINES
    }
    assert not long, f"over {MAX_LINES} lines: {long}"


def test_the_walls_see_what_they_guard() -> None:
    # the checks above would pass on an empty tree: they must see the modules and imports
    edges = graph()
    assert "tui.act.session" in edges and "tui.record.journal" in edges["tui.act.session"]
    assert "tui.signals" in edges["widgets.error_rates"]
    assert any(
        under(t, ("textual",)) for t, _ in imports(ROOT / "widgets" / "pods.py", "widgets.pods")
    )
