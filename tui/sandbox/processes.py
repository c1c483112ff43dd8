"""Child processes of the demo: the sandbox server and a real Prometheus scraping it, each
tied to this process so they end with it, even when it is killed."""

from __future__ import annotations

import contextlib
import ctypes
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tui.errors import IncidentTuiError

__all__ = ["prometheus_config", "start_prometheus", "start_sandbox", "stop"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: ask the kernel for SIGTERM when the parent dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """Terminate a child and wait for it; kill it if it does not go."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_sandbox(
    folder: Path, scenario: str, extra: list[str] | None = None, timeout: float = 30.0
) -> tuple[subprocess.Popen[bytes], dict[str, Any], Path]:
    """Run `incident-tui sandbox` in the background; return the process, its endpoints
    (the JSON line it prints first) and the config file it wrote."""
    config = folder / "config.toml"
    out = folder / "sandbox.out"
    err = folder / "sandbox.log"
    command = [
        sys.executable,
        "-c",
        "from tui.cli import main; main()",
        "sandbox",
        "--scenario",
        scenario,
        "--write-config",
        str(config),
        *(extra or []),
    ]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
    deadline = time.monotonic() + timeout
    while True:
        text = out.read_text(encoding="utf-8", errors="replace") if out.exists() else ""
        if "\n" in text:
            try:
                return process, json.loads(text.split("\n", 1)[0]), config
            except ValueError:
                stop(process)
                raise IncidentTuiError(
                    f"the sandbox printed something other than its endpoints: {text[:200]}"
                ) from None
        if process.poll() is not None:
            reason = err.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            raise IncidentTuiError(
                f"the sandbox exited before it was ready: {reason[-1] if reason else 'no reason given'}"
            )
        if time.monotonic() > deadline:
            stop(process)
            raise IncidentTuiError(f"the sandbox did not start within {timeout:g} s (see {err})")
        time.sleep(0.05)


def prometheus_config(metrics_urls: list[str], scrape_interval: str = "1s") -> str:
    """A Prometheus config scraping each /metrics URL."""
    targets = []
    for url in metrics_urls:
        parts = urlsplit(url)
        targets.append({"host": parts.netloc, "path": parts.path or "/metrics"})
    jobs = [
        {
            "job_name": f"sandbox-{index}",
            "metrics_path": target["path"],
            "static_configs": [{"targets": [target["host"]]}],
        }
        for index, target in enumerate(targets)
    ]
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": jobs,
    }
    return json.dumps(config, indent=2)


@contextlib.contextmanager
def start_prometheus(
    binary: str,
    metrics_urls: list[str],
    folder: Path,
    scrape_interval: str = "1s",
    timeout: float = 60.0,
) -> Iterator[str]:
    """A real Prometheus on 127.0.0.1 scraping the URLs, for the life of the block."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(prometheus_config(metrics_urls, scrape_interval))
    port = free_port()
    log_path = folder / "prometheus.log"
    args = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1d",
    ]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=log, preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                lines = log_path.read_text(errors="replace").strip().splitlines()
                raise IncidentTuiError(f"prometheus exited: {lines[-1] if lines else 'no output'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise IncidentTuiError(f"prometheus did not become ready within {timeout:g} s")
            time.sleep(0.2)
        yield url
    finally:
        stop(process)
