"""`incident-tui sandbox`: run the simulated world on loopback until interrupted."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tui.errors import IncidentTuiError
from tui.output import echo

if TYPE_CHECKING:
    from tui.sandbox.faults import Fault

__all__ = ["sandbox"]


def _parse_ports(specs: tuple[str, ...]) -> dict[str, int]:
    from tui.sandbox.server import PORT_NAMES

    ports: dict[str, int] = {}
    for spec in specs:
        name, sep, number = spec.partition("=")
        if not sep or name not in PORT_NAMES or not number.isdigit() or int(number) > 65535:
            raise IncidentTuiError(
                f'--port "{spec}" is not NAME=PORT; names: {", ".join(PORT_NAMES)}'
            )
        ports[name] = int(number)
    return ports


def _list_scenarios() -> None:
    from tui.sandbox.scenarios import SCENARIOS

    width = max(len(name) for name in SCENARIOS) + 2
    for name, scenario in SCENARIOS.items():
        echo(f"{name:<{width}}{scenario.summary}")
        echo(f"{'':<{width}}fix: {scenario.fix}")


@click.command("sandbox")
@click.option(
    "--scenario",
    default="clay-rate-limited",
    show_default=True,
    metavar="NAME",
    help="What goes wrong (see --list-scenarios).",
)
@click.option(
    "--write-config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write an incident-tui config pointing every bundled runbook at the sandbox "
    "(the kubeconfig goes next to it).",
)
@click.option("--list-scenarios", is_flag=True, help="List the scenarios and their fixes.")
@click.option(
    "--fault",
    "fault_specs",
    multiple=True,
    metavar="BACKEND=KIND[:ARG]",
    help="Start with a fault (repeatable): status_page=down, prometheus=slow:10, "
    "kubernetes=403:patch/deployments, logs=drop:50.",
)
@click.option(
    "--flood",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="LINES_PER_SEC_PER_POD",
    help="Extra log lines per second written by every Ready pod.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    metavar="FACTOR",
    help="Run the scenario's clock (ramp, vendor recovery, pod delays) this much faster.",
)
@click.option(
    "--port",
    "port_specs",
    multiple=True,
    metavar="NAME=PORT",
    help="Listen on this port instead of a free one (repeatable): kubernetes, status_page, "
    "health, prometheus, control.",
)
@click.option("--seed", type=int, default=None, help="Seed the simulation's randomness.")
def sandbox(
    scenario: str,
    config_path: Path | None,
    list_scenarios: bool,
    fault_specs: tuple[str, ...],
    flood: float,
    speed: float,
    port_specs: tuple[str, ...],
    seed: int | None,
) -> None:
    """Serve a simulated cluster, vendor status pages, health endpoint and metrics on
    127.0.0.1, and print where as one JSON line.

    Runs until interrupted (Ctrl-C or SIGTERM)."""
    if list_scenarios:
        _list_scenarios()
        return
    import asyncio

    from tui.sandbox.faults import parse_fault
    from tui.sandbox.scenarios import SCENARIOS

    if scenario not in SCENARIOS:
        raise IncidentTuiError(
            f'unknown scenario "{scenario}"; choose one of: {", ".join(SCENARIOS)}'
        )
    faults: list[tuple[str, Fault]] = []
    for spec in fault_specs:
        try:
            faults.append(parse_fault(spec))
        except ValueError as error:
            raise IncidentTuiError(f"--fault: {error}") from None
    ports = _parse_ports(port_specs)
    kubeconfig = None
    if config_path is not None:
        kubeconfig = config_path.with_name(f"{config_path.stem}-kubeconfig.yaml")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            _serve(
                scenario,
                speed=speed,
                flood=flood,
                faults=faults,
                ports=ports,
                kubeconfig=kubeconfig,
                config_path=config_path,
                seed=seed,
            )
        )


async def _serve(
    scenario: str,
    *,
    speed: float,
    flood: float,
    faults: list[tuple[str, Fault]],
    ports: dict[str, int],
    kubeconfig: Path | None,
    config_path: Path | None,
    seed: int | None,
) -> None:
    import asyncio
    import json
    import signal

    from tui.sandbox.server import Sandbox

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    box = Sandbox(
        scenario,
        speed=speed,
        flood=flood,
        faults=faults,
        ports=ports,
        kubeconfig=kubeconfig,
        seed=seed,
    )
    try:
        endpoints = await box.start()
    except OSError as error:
        raise IncidentTuiError(f"{error.strerror or error}.") from None
    try:
        if config_path is not None:
            try:
                box.write_config(config_path)
            except OSError as error:
                raise IncidentTuiError(
                    f"cannot write the config {config_path}: {error.strerror or error}."
                ) from None
        sys.stdout.write(json.dumps(endpoints.to_json()) + "\n")
        sys.stdout.flush()
        echo(
            f"incident-tui sandbox: scenario {scenario} on 127.0.0.1; "
            f"kubectl --kubeconfig {endpoints.kubeconfig} get pods; Ctrl-C to stop.",
            err=True,
        )
        if config_path is not None:
            echo(f"incident-tui sandbox: wrote {config_path}", err=True)
        await stop.wait()
    finally:
        await box.stop()
