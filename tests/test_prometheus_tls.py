"""Prometheus as real teams run it: behind TLS from a private CA, asking for a client
certificate, a bearer token from a file and a tenant header (Mimir/Cortex). The gateway
is the sandbox's, in front of the real Prometheus and of the sandbox's own query API."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from sandbox_helpers import running_prometheus, running_sandbox, wait_until

from tui.errors import ConfigError, SourceError
from tui.runbook import discover_runbooks
from tui.sandbox.tenant_proxy import TenantGateway
from tui.settings import PrometheusSettings, load_settings
from tui.sources.prometheus import HttpConfig, PrometheusSource

CLAY = discover_runbooks().get("clay")


class Pki:
    """A private CA, the gateway's certificate from it, and a client certificate."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("127.0.0.1", "localhost")
        client = self.ca.issue_cert("incident-tui@example.com")
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.cert_file = folder / "client.pem"
        self.key_file = folder / "client.key"
        client.cert_chain_pems[0].write_to_path(str(self.cert_file))
        client.private_key_pem.write_to_path(str(self.key_file))

    def server_context(self, *, client_certificates: bool) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.configure_cert(context)
        if client_certificates:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context


@contextlib.asynccontextmanager
async def gateway(
    upstream: str, tls: ssl.SSLContext, **options: Any
) -> AsyncIterator[TenantGateway]:
    proxy = TenantGateway(upstream, tls, **options)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


def _http(**settings: Any) -> HttpConfig:
    return HttpConfig.from_settings(PrometheusSettings(**settings))


async def test_a_tenant_behind_a_private_ca_with_a_client_certificate_is_read(
    tmp_path: Path,
) -> None:
    pki = Pki(tmp_path)
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    async with running_sandbox("clay-rate-limited", speed=30) as sb:
        async with running_prometheus([sb.endpoints.metrics], tmp_path) as real:
            for upstream in (real, sb.endpoints.prometheus):
                token_file.write_text("first\n")
                tls = pki.server_context(client_certificates=True)
                async with gateway(upstream, tls, tenant="team-a", token="first") as proxy:
                    http = _http(
                        url=proxy.url,
                        ca_file=pki.ca_file,
                        cert_file=pki.cert_file,
                        key_file=pki.key_file,
                        bearer_token_file=token_file,
                        headers={"X-Scope-OrgID": "team-a"},
                    )
                    source = PrometheusSource(CLAY.signals, proxy.url, http=http, timeout=5)

                    async def answered(source: PrometheusSource = source) -> Any:
                        readings = await source.fetch()
                        return readings if any(r.value is not None for r in readings) else None

                    readings = await wait_until(answered, 90, 0.5, f"readings via {upstream}")
                    assert {r.signal_id for r in readings} == {s.id for s in CLAY.signals}
                    assert ("team-a", True) in proxy.seen
                    # the token file is read again on each query: a rotated token is used
                    proxy.token = "second"
                    token_file.write_text("second\n")
                    await source.fetch()
                    assert proxy.seen[-1] == ("team-a", True)


async def test_tls_and_tenant_failures_are_named_as_what_they_are(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    async with running_sandbox("clay-healthy") as sb:
        tls = pki.server_context(client_certificates=False)
        async with gateway(sb.endpoints.prometheus, tls, tenant="team-a") as proxy:
            untrusted = PrometheusSource(CLAY.signals, proxy.url, http=_http(), timeout=5)
            with pytest.raises(SourceError) as caught:
                await untrusted.fetch()
            said = str(caught.value)
            assert "TLS failed" in said and "not trusted" in said and "ca_file" in said
            assert "cannot connect" not in said

            no_tenant = PrometheusSource(
                CLAY.signals, proxy.url, http=_http(ca_file=pki.ca_file), timeout=5
            )
            with pytest.raises(SourceError) as caught:
                await no_tenant.fetch()
            assert caught.value.kind == "auth_expired" or "401" in str(caught.value)

            skipping = PrometheusSource(
                CLAY.signals,
                proxy.url,
                http=_http(insecure_skip_verify=True, headers={"X-Scope-OrgID": "team-a"}),
                timeout=5,
            )
            assert await skipping.fetch()
        tls = pki.server_context(client_certificates=True)
        async with gateway(sb.endpoints.prometheus, tls, tenant=None) as proxy:
            no_cert = PrometheusSource(
                CLAY.signals, proxy.url, http=_http(ca_file=pki.ca_file), timeout=5
            )
            with pytest.raises(SourceError) as caught:
                await no_cert.fetch()
            assert "TLS failed" in str(caught.value) or "client certificate" in str(caught.value)


def test_the_http_config_settings_load_from_the_config_file(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[prometheus]
url = "https://mimir.example:443/prometheus"
ca_file = "{pki.ca_file}"
cert_file = "{pki.cert_file}"
key_file = "{pki.key_file}"
headers = {{ "X-Scope-OrgID" = "team-a" }}
"""
    )
    prom = load_settings(config).prometheus
    assert prom.ca_file == pki.ca_file
    assert prom.headers["X-Scope-OrgID"].get_secret_value() == "team-a"
    assert "team-a" not in repr(prom)  # header values are kept like secrets
    config.write_text('[prometheus]\nca_file = "/nowhere/ca.pem"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "no file at /nowhere/ca.pem" in str(caught.value)
