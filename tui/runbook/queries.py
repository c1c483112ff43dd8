"""A signal's PromQL: its placeholders, expanded from the configured scrape interval,
and a syntax check with Prometheus's own grammar (the ``promql-parser`` package).

``$__rate_interval`` is four scrape intervals, as Grafana's ``$__rate_interval`` is at
its floor: the shortest range that still holds enough samples for ``rate()`` when a
scrape is missed. ``$__scrape_interval`` is the interval itself. A runbook that writes
``rate(x[$__rate_interval])`` keeps working on a Prometheus that scrapes every 60 s,
where ``rate(x[1m])`` has no data at all."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["PLACEHOLDERS", "expand_query", "query_problem"]

PLACEHOLDERS = {"$__rate_interval": 4, "$__scrape_interval": 1}
"""Each placeholder, and how many scrape intervals it stands for."""

_PLACEHOLDER = re.compile(r"\$__\w+|\$\{__\w+\}")


def _seconds(interval: timedelta, times: int) -> str:
    return f"{max(1, round(interval.total_seconds() * times))}s"


def expand_query(query: str, scrape_interval: timedelta) -> str:
    """The query with its placeholders replaced; an unknown one stays (and the parser,
    or Prometheus, says so)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(0).replace("{", "").replace("}", "")
        times = PLACEHOLDERS.get(name)
        return match.group(0) if times is None else _seconds(scrape_interval, times)

    return _PLACEHOLDER.sub(one, query)


def query_problem(query: str, scrape_interval: timedelta = timedelta(seconds=15)) -> str | None:
    """What is wrong with the query's syntax, in Prometheus's words; None when it parses."""
    unknown = sorted(
        {m.replace("{", "").replace("}", "") for m in _PLACEHOLDER.findall(query)}
        - set(PLACEHOLDERS)
    )
    if unknown:
        known = ", ".join(PLACEHOLDERS)
        return f"unknown placeholder {', '.join(unknown)} (known: {known})"
    import promql_parser

    try:
        promql_parser.parse(expand_query(query, scrape_interval))
    except ValueError as error:
        return f"PromQL syntax error: {' '.join(str(error).split())}"
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # the parser's own failure (a Rust panic) on an odd query
        return "PromQL the parser cannot read (check numbers such as NaN in offsets)"
    return None
