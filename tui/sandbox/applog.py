"""The lines our simulated services log, each numbered with its pod's ``seq``: plain text
lines, and request lines (every fourth one JSON, as a service with two loggers writes);
and :class:`PodState`, what the world keeps of each pod to write them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from tui.sandbox.kube.kubelet import LogRecord
from tui.sandbox.scenarios import VendorProfile, iso_time

__all__ = ["PodState", "access_log", "request_line", "text_line"]


@dataclass
class PodState:
    """What the world remembers of one pod: its env as read when it started, and the
    counters that keep its traffic and log sequence exact (``seq`` counts lines from 1)."""

    name: str
    vendor: str
    tag: str
    env: dict[str, str]
    seq: int = 1
    calls: float = 0.0
    errors: float = 0.0
    slow: float = 0.0
    fast: float = 0.0
    webhooks: float = 0.0
    flood: float = 0.0
    prefix: str = ""


def text_line(pod: PodState, stamp: str, level: str, text: str) -> str:
    seq = pod.seq
    pod.seq += 1
    return f"{stamp} {level:<5} {text} seq={seq}"


def request_line(
    pod: PodState,
    at: float,
    level: str,
    method: str,
    path: str,
    code: int,
    latency: float,
    request_id: str,
    message: str | None,
) -> LogRecord:
    seq = pod.seq
    pod.seq += 1
    stamp = iso_time(at)
    ms = round(latency * 1000)
    if seq % 4 == 3:
        text = json.dumps(
            {
                "ts": stamp,
                "level": level.lower(),
                "msg": message or f"{method} {path} {code}",
                "method": method,
                "path": path,
                "status": code,
                "latency_ms": ms,
                "request_id": request_id,
                "seq": seq,
            },
            separators=(",", ":"),
        )
    elif message is None:
        text = f"{stamp} {level:<5} {method} {path} {code} {ms}ms request_id={request_id} seq={seq}"
    else:
        text = (
            f"{stamp} {level:<5} {message} method={method} path={path} status={code} "
            f"latency_ms={ms} request_id={request_id} seq={seq}"
        )
    return LogRecord(datetime.fromtimestamp(at, UTC), text)


_CALL = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s\"]*)[\s\"]+([1-5][0-9]{2})\b")


def access_log(vendor: VendorProfile, records: list[LogRecord]) -> list[LogRecord]:
    """The egress proxy's lines for the application's: one access-log line per call the
    application logged, in Envoy's default format, with the status it got."""
    lines = []
    for record in records:
        found = _CALL.search(record.text)
        if found is None:
            continue
        method, path, code = found.groups()
        stamp = iso_time(record.time.timestamp())
        took = 12 + len(record.text) % 40
        lines.append(
            LogRecord(
                record.time,
                f'[{stamp}] "{method} {path} HTTP/1.1" {code} - 0 214 {took} - '
                f'"{vendor.api_host}" "outbound|443||{vendor.api_host}"',
            )
        )
    return lines
