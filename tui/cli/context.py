"""What every command shares: the group's options as this invocation's settings and
runbooks, and how an error the user caused ends a command (one line, an exit code).

Nothing heavy is imported here at module level: every command module imports this one,
and ``incident-tui --help`` imports every command module."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from tui.errors import IncidentTuiError
from tui.output import echo

if TYPE_CHECKING:
    from tui.runbook import Catalog, Runbook
    from tui.settings import Settings

__all__ = [
    "SEVERITIES",
    "CommandGroup",
    "fail",
    "keep_options",
    "load_context_catalog",
    "load_context_runbook",
    "load_context_settings",
    "runbook_dirs",
    "use_config",
    "use_prometheus",
]

SEVERITIES = ("P1", "P2", "P3", "P4")
"""What ``--severity`` accepts where a command declares an incident itself."""


def fail(error: IncidentTuiError | str, code: int = 2) -> NoReturn:
    """Print one line to stderr (one per problem when a file has several) and exit: how
    every user-caused error ends a command."""
    problems = getattr(error, "problems", None)
    if isinstance(problems, list) and len(problems) > 1:
        for problem in problems:
            echo(f"incident-tui: {problem}", err=True)
    else:
        echo(f"incident-tui: {error}", err=True)
    sys.exit(getattr(error, "exit_code", code) if not isinstance(error, str) else code)


class CommandGroup(click.Group):
    """A group that turns every :class:`IncidentTuiError` into one line and its exit code
    (2 unless the error has its own), and Ctrl-C into one line and 130; every command
    added to it (and to its groups) also takes the shared options (:data:`SHARED`), after
    its name as before it, as kubectl does."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if cmd.name not in OWN_WORLD:
            share_options(cmd)
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IncidentTuiError as error:
            fail(error)
        except KeyboardInterrupt:
            # the shell's convention (128 + SIGINT), where click would say "Aborted!" and 1
            echo("incident-tui: interrupted", err=True)
            sys.exit(130)


# --------------------------------------------------------------------------- the options

SHARED: tuple[tuple[tuple[str, ...], str, str, str, bool], ...] = (
    (("--config",), "config_path", "", "Config file (as before the command).", True),
    (("--kubeconfig",), "kubernetes", "kubeconfig", "Kubeconfig file.", True),
    (("--context",), "kubernetes", "context", "Kubeconfig context.", False),
    (("--namespace", "-n"), "kubernetes", "namespace", "Namespace.", False),
)
"""The options every command takes after its name too: (flags, section, key, help, path)."""


OWN_WORLD = ("demo", "sandbox")
"""Commands that make their own cluster and config: the shared options would mislead."""


def _shared_callback(section: str, key: str) -> Any:
    def store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None:
            return
        options = ctx.find_root().ensure_object(dict)
        if section == "config_path":
            options["config_path"] = value
        else:
            options.setdefault("flags", {}).setdefault(section, {})[key] = value

    return store


def share_options(cmd: click.Command) -> None:
    """Give ``cmd`` (each command of it, for a group) the shared options it lacks."""
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            share_options(sub)
        return
    taken = {opt for param in cmd.params for opt in getattr(param, "opts", [])}
    for flags, section, key, help_text, is_path in SHARED:
        if taken.intersection(flags):
            continue  # the command's own option of that name (``sandbox --config``) stays
        cmd.params.append(
            click.Option(
                list(flags),
                type=click.Path(dir_okay=False, path_type=Path) if is_path else None,
                expose_value=False,
                is_eager=False,
                callback=_shared_callback(section, key),
                help=help_text,
            )
        )


def keep_options(
    ctx: click.Context,
    *,
    runbook_dirs: tuple[Path, ...],
    config_path: Path | None,
    flags: dict[str, dict[str, Any]],
) -> None:
    """Keep the group's options where every command of this invocation finds them."""
    ctx.ensure_object(dict)
    ctx.obj["runbook_dirs"] = runbook_dirs
    ctx.obj["config_path"] = config_path
    ctx.obj["flags"] = flags


def _options(ctx: click.Context) -> dict[str, Any]:
    return ctx.find_root().obj or {}


def use_config(ctx: click.Context, config_path: Path) -> None:
    """Read the settings from this config file instead of the one the options named."""
    _options(ctx)["config_path"] = config_path


def use_prometheus(ctx: click.Context, url: str) -> None:
    """Read the metrics from this Prometheus, whatever the config and options say."""
    _options(ctx).setdefault("flags", {}).setdefault("prometheus", {})["url"] = url


def runbook_dirs(ctx: click.Context) -> tuple[Path, ...]:
    """The ``--runbooks`` folders of this invocation."""
    return tuple(_options(ctx).get("runbook_dirs", ()))


def load_context_settings(ctx: click.Context) -> Settings:
    """The settings for this invocation: config file < environment < the group's flags."""
    from tui.settings import load_settings

    options = _options(ctx)
    return load_settings(options.get("config_path"), **options.get("flags", {}))


def load_context_catalog(ctx: click.Context) -> Catalog:
    """The bundled, user and ``--runbooks`` runbooks."""
    from tui.runbook import discover_runbooks

    return discover_runbooks(runbook_dirs(ctx))


def load_context_runbook(ctx: click.Context, runbook_id: str) -> Runbook:
    """A runbook by id from the bundled, user and ``--runbooks`` folders."""
    return load_context_catalog(ctx).get(runbook_id)
