"""Runbook signals from Prometheus: the instant value and a 30-minute series of each query,
judged against its alert rule; the backup URL when the primary fails."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.errors import (
    SourceError,
    SourceMalformed,
    SourceTimeout,
    SourceUnreachable,
)
from tui.inert import inert
from tui.runbook import Signal, parse_duration
from tui.runbook.queries import expand_query
from tui.signals import AlertLevel, MetricReading, holds, utcnow
from tui.sources.base import error_for_status, quoted

if TYPE_CHECKING:
    from tui.settings import PrometheusSettings

__all__ = ["PrometheusSource", "judge", "parse_vector"]

_STATUS = re.compile(r"HTTP Status Code (\d{3})")


def judge(signal: Signal, value: float | None) -> AlertLevel:
    """The alert level of a value under the signal's rule."""
    if value is None:
        return "unknown"
    if signal.alert is None:
        return "ok"
    return signal.alert.severity if holds(value, signal.alert.op, signal.alert.value) else "ok"


def _number(raw: Any) -> float | None:
    # Prometheus sends sample values as strings; JSON true is an int to Python
    if isinstance(raw, bool):
        raise SourceMalformed("prometheus", f"sample value {raw!r} is not a number")
    try:
        value = float(raw)
    except OverflowError:
        return None
    except (TypeError, ValueError):
        raise SourceMalformed("prometheus", f"sample value {_short(raw)} is not a number") from None
    return None if math.isnan(value) or math.isinf(value) else value


def _stamp(raw: Any) -> float:
    """A sample's unix time; anything that is not a finite number is malformed."""
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if not math.isfinite(value):
        raise SourceMalformed("prometheus", f"sample time {_short(raw)} is not a unix time")
    return value


def _short(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:39] + "…"


def parse_vector(result: Any) -> float | None:
    """The single value of an instant query's result; the largest when several series
    came back; None for no series or NaN."""
    if not isinstance(result, list):
        raise SourceMalformed("prometheus", "the query result is not a list of series")
    values = []
    for series in result:
        if not isinstance(series, dict):
            raise SourceMalformed("prometheus", "a series in the result is not an object")
        sample = series.get("value")
        if not isinstance(sample, list | tuple) or len(sample) != 2:
            raise SourceMalformed("prometheus", "a series has no [time, value] sample")
        value = _number(sample[1])
        if value is not None:
            values.append(value)
    return max(values) if values else None


def _parse_matrix(result: Any) -> tuple[tuple[float, float], ...]:
    if not isinstance(result, list):
        raise SourceMalformed("prometheus", "the range result is not a list of series")
    points: dict[float, float] = {}
    for series in result:
        if not isinstance(series, dict) or not isinstance(series.get("values"), list):
            raise SourceMalformed("prometheus", "a range series has no `values`")
        for sample in series["values"]:
            if not isinstance(sample, list | tuple) or len(sample) != 2:
                raise SourceMalformed("prometheus", "a range sample is not [time, value]")
            stamp = _stamp(sample[0])
            value = _number(sample[1])
            if value is not None:
                points[stamp] = max(points.get(stamp, value), value)
    return tuple(sorted(points.items()))


_EXECUTOR: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    """A pool of its own, so a slow Prometheus never starves other threaded work."""
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=12, thread_name_prefix="prometheus")
    return _EXECUTOR


@dataclass(frozen=True)
class HttpConfig:
    """How to reach a Prometheus: Prometheus's own ``http_config`` settings."""

    headers: tuple[tuple[str, str], ...] = ()
    bearer_token: str | None = None
    bearer_token_file: Path | None = None
    basic_auth: tuple[str, str] | None = None
    verify: bool | str = True
    """False (skip verification), True (the system's CAs) or a CA file's path."""
    cert: tuple[str, str] | None = None
    """A client certificate and its key (PEM files)."""

    @classmethod
    def from_settings(cls, prom: PrometheusSettings) -> HttpConfig:
        basic = (
            (prom.username, prom.password.get_secret_value())
            if prom.username and prom.password
            else None
        )
        verify: bool | str = not prom.insecure_skip_verify and prom.verify_tls
        if verify and prom.ca_file is not None:
            verify = str(prom.ca_file.expanduser())
        cert = (
            (str(prom.cert_file.expanduser()), str(prom.key_file.expanduser()))
            if prom.cert_file is not None and prom.key_file is not None
            else None
        )
        return cls(
            headers=tuple((k, v.get_secret_value()) for k, v in prom.headers.items()),
            bearer_token=prom.bearer_token.get_secret_value() if prom.bearer_token else None,
            bearer_token_file=prom.bearer_token_file,
            basic_auth=basic,
            verify=verify,
            cert=cert,
        )

    def request_headers(self) -> dict[str, str]:
        """The headers of one query; a token file is read each time, as Prometheus does."""
        headers = dict(self.headers)
        token = self.bearer_token
        if self.bearer_token_file is not None:
            try:
                token = self.bearer_token_file.expanduser().read_text(encoding="utf-8").strip()
            except OSError as error:
                raise SourceError(
                    "prometheus",
                    f"cannot read bearer_token_file {self.bearer_token_file}: {error.strerror}",
                ) from None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers


class _Endpoint:
    """One Prometheus URL behind prometheus-api-client (synchronous: used from a thread)."""

    def __init__(self, url: str, http: HttpConfig, timeout: float) -> None:
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        self.url = url.rstrip("/")
        self.http = http
        self.client = PrometheusConnect(
            url=self.url,
            headers=http.request_headers() if http.bearer_token_file is None else None,
            auth=http.basic_auth,
            disable_ssl=http.verify is False,
            retry=Retry(total=0, status_forcelist=[], raise_on_status=False),
            timeout=timeout,
        )
        if http.verify is False:
            # chosen in the settings: not a warning to print over the screen on every query
            import warnings

            from urllib3.exceptions import InsecureRequestWarning

            warnings.simplefilter("ignore", InsecureRequestWarning)
        session = self.client._session
        session.verify = http.verify
        if http.cert is not None:
            session.cert = http.cert

    def _fresh(self) -> None:
        if self.http.bearer_token_file is not None:
            self.client.headers = self.http.request_headers()

    def query(self, query: str) -> Any:
        self._fresh()
        return self.client.custom_query(query)

    def query_range(self, query: str, span: timedelta, step: str) -> Any:
        self._fresh()
        end = utcnow()
        return self.client.custom_query_range(query, end - span, end, step)

    def raw_range(self, query: str, start: Any, end: Any, step: str) -> Any:
        self._fresh()
        return self.client.custom_query_range(query, start, end, step)


def _translate(url: str, exc: Exception, http: HttpConfig | None = None) -> SourceError:
    import requests
    from prometheus_api_client.exceptions import PrometheusApiClientException
    from urllib3.exceptions import ReadTimeoutError

    if isinstance(exc, SourceError):
        return exc
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(exc, requests.Timeout) or isinstance(reason, TimeoutError | ReadTimeoutError):
        return SourceTimeout("prometheus", f"{url} did not answer in time")
    if isinstance(exc, requests.exceptions.SSLError):
        return SourceUnreachable("prometheus", f"TLS failed for {url}: {_tls_reason(exc)}")
    if isinstance(exc, requests.ConnectionError):
        aborted = "Connection aborted" in str(exc) or "RemoteDisconnected" in str(exc)
        if aborted and url.startswith("https://") and http is not None and http.cert is None:
            # TLS 1.3 servers that want a client certificate hang up after the handshake
            return SourceUnreachable(
                "prometheus",
                f"TLS failed for {url}: the server hung up after the handshake; if it asks "
                "for a client certificate, set prometheus.cert_file and key_file",
            )
        return SourceUnreachable("prometheus", f"cannot connect to {url}")
    if isinstance(exc, PrometheusApiClientException):
        text = str(exc)
        match = _STATUS.search(text)
        code = int(match.group(1)) if match else 0
        if code == 400 and "bad_data" in text:
            reason = re.search(r'"error"\s*:\s*"([^"]+)"', text)
            return SourceError(
                "prometheus",
                f"{url} rejected the query: {quoted(reason.group(1) if reason else text)}",
            )
        return error_for_status("prometheus", code, url)
    if isinstance(exc, ValueError | KeyError | TypeError | RecursionError):
        return SourceMalformed("prometheus", f"{url} sent an answer that is not Prometheus JSON")
    return SourceError("prometheus", f"{url}: {type(exc).__name__}: {exc}")


def _tls_reason(exc: Exception) -> str:
    """The certificate problem in a few words, out of urllib3's nested wrapping."""
    text = str(exc)
    for known, said in (
        ("CERTIFICATE_VERIFY_FAILED", "the server's certificate is not trusted"),
        ("WRONG_VERSION_NUMBER", "the server does not speak TLS (http:// instead?)"),
        ("certificate required", "the server asks for a client certificate"),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "the server asks for a client certificate"),
        ("unknown ca", "the server does not trust the client certificate"),
        ("hostname mismatch", "the certificate is for another host name"),
    ):
        if known.lower() in text.lower():
            detail = re.search(r"certificate verify failed: ([^(\])]+)", text)
            extra = f" ({detail.group(1).strip()})" if detail else ""
            hint = "; set prometheus.ca_file to its CA" if "not trusted" in said else ""
            return said + extra + hint
    return inert(text)[:200]


class PrometheusSource:
    """Fetches every signal of a runbook; on a primary failure (down, slow, 5xx) it asks
    the backup URL, and the readings say so."""

    backend = "prometheus"

    def __init__(
        self,
        signals: Sequence[Signal],
        url: str,
        backup_url: str | None = None,
        *,
        http: HttpConfig | None = None,
        timeout: float = 5.0,
        series_range: str = "30m",
        series_step: str = "30s",
        scrape_interval: str = "15s",
    ) -> None:
        self.signals = list(signals)
        scrape = parse_duration(scrape_interval)
        self._queries = {s.id: expand_query(s.query, scrape) for s in self.signals}
        self.timeout = timeout
        self.span = parse_duration(series_range)
        self.step = series_step
        http = http or HttpConfig()
        self._primary = _Endpoint(url, http, timeout)
        self._backup = _Endpoint(backup_url, http, timeout) if backup_url else None

    def query_of(self, signal: Signal) -> str:
        """The signal's query as sent: its placeholders expanded."""
        return self._queries.get(signal.id) or signal.query

    @property
    def target(self) -> str:
        return self._primary.url

    async def _call(self, endpoint: _Endpoint, fn: Any, *args: Any) -> Any:
        try:
            loop = asyncio.get_running_loop()
            call = loop.run_in_executor(_executor(), lambda: fn(*args))
            return await asyncio.wait_for(call, self.timeout + 1)
        except TimeoutError:
            raise SourceTimeout(
                "prometheus", f"{endpoint.url} did not answer within {self.timeout:g} s"
            ) from None
        except Exception as exc:  # every client failure becomes a typed error
            raise _translate(endpoint.url, exc, endpoint.http) from None

    async def _read(self, endpoint: _Endpoint, signal: Signal, via_backup: bool) -> MetricReading:
        instant, series = await asyncio.gather(
            self._call(endpoint, endpoint.query, self.query_of(signal)),
            self._call(endpoint, endpoint.query_range, self.query_of(signal), self.span, self.step),
        )
        value = parse_vector(instant)
        return MetricReading(
            signal_id=signal.id,
            name=signal.name,
            value=value,
            unit=signal.unit,
            level=judge(signal, value),
            threshold=signal.alert.value if signal.alert else None,
            op=signal.alert.op if signal.alert else None,
            series=_parse_matrix(series),
            fetched_at=utcnow(),
            via_backup=via_backup,
        )

    async def _read_all(self, endpoint: _Endpoint, via_backup: bool) -> list[MetricReading]:
        return list(
            await asyncio.gather(*(self._read(endpoint, s, via_backup) for s in self.signals))
        )

    async def fetch(self) -> list[MetricReading]:
        """Every signal's reading, from the primary or else the backup."""
        try:
            return await self._read_all(self._primary, False)
        except SourceError as primary_error:
            failover = primary_error.kind in ("unreachable", "timeout", "server_error")
            if self._backup is None or not failover:
                raise
            try:
                return await self._read_all(self._backup, True)
            except SourceError as backup_error:
                raise type(primary_error)(
                    "prometheus",
                    f"{primary_error.detail}; the backup failed too: {backup_error.detail}",
                ) from None

    async def query_range(self, query: str, start: Any, end: Any, step: str) -> Any:
        """A raw range query (for the evidence bundle), primary then backup."""
        endpoints = [self._primary] + ([self._backup] if self._backup else [])
        last: SourceError | None = None
        for endpoint in endpoints:
            try:
                return await self._call(endpoint, endpoint.raw_range, query, start, end, step)
            except SourceError as error:
                last = error
        assert last is not None
        raise last
