"""Status pages that are not Atlassian Statuspage: the sandbox publishes each vendor's page
in every format at once, and each format, read by the runbook's ``status_page_format``,
must tell the same story as the Statuspage JSON of the same moment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from sandbox_helpers import running_sandbox

from runbooks import BUNDLED_DIR
from tui.errors import RunbookError, SourceError
from tui.runbook import discover_runbooks, parse_runbook
from tui.runbook.sections import StatusJson
from tui.sources.statuspage import StatusPageSource

FORMATS = ("instatus", "betterstack", "incidentio", "json")
GENERIC = StatusJson(
    path="/api/status",
    indicator="overall.state",
    ok=["ok"],
    major=["down"],
    description="overall.message",
    incidents="open_issues",
)


def _source(url: str, client: httpx.AsyncClient, page_format: str) -> StatusPageSource:
    spec = GENERIC if page_format == "json" else None
    return StatusPageSource("Clay", url, client, 5, page_format=page_format, spec=spec)


@pytest.mark.parametrize("scenario", ["clay-vendor-outage", "clay-healthy"])
async def test_every_format_tells_the_same_story_as_statuspage(scenario: str) -> None:
    async with running_sandbox(scenario) as sb, httpx.AsyncClient() as client:
        url = sb.status_page("clay")
        truth = await _source(url, client, "statuspage").fetch()
        for page_format in FORMATS:
            read = await _source(url, client, page_format).fetch()
            assert (read.indicator == "none") == (truth.indicator == "none"), page_format
            assert [i.name for i in read.incidents] == [i.name for i in truth.incidents]
            if page_format != "json":
                degraded = sorted(c.name for c in read.degraded_components)
                assert degraded == sorted(c.name for c in truth.degraded_components), page_format
        if scenario == "clay-vendor-outage":
            assert truth.indicator != "none" and truth.incidents


def test_a_runbook_names_its_status_page_format() -> None:
    text = (BUNDLED_DIR / "clay.yaml").read_text()
    marker = "  status_page: https://status.clay.com\n"
    assert marker in text
    book = parse_runbook(text.replace(marker, marker + "  status_page_format: betterstack\n"))
    assert book.vendor.status_page_format == "betterstack"
    with pytest.raises(RunbookError) as caught:
        parse_runbook(text.replace(marker, marker + "  status_page_format: json\n"))
    assert "needs status_page_json" in str(caught.value)
    with pytest.raises(RunbookError) as caught:
        parse_runbook(text.replace(marker, marker + "  status_page_format: cachet\n"))
    assert "status_page_format" in str(caught.value)


async def test_an_html_404_is_one_clean_sentence(tmp_path: Path) -> None:
    page = (
        "<!DOCTYPE html><html><head><style>body{color:red}</style><title>Not found</title>"
        "<script>var x = '\x1b]0;pwned\x07';</script></head><body><h1>404</h1>"
        "<p>This page could not be found.</p>" + "<div>padding</div>" * 200 + "</body></html>"
    )

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=404, text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with httpx.AsyncClient() as client:
            source = _source(f"http://127.0.0.1:{port}", client, "instatus")
            with pytest.raises(SourceError) as caught:
                await source.fetch()
    finally:
        await runner.cleanup()
    said = str(caught.value)
    assert "404" in said and "This page could not be found." in said
    assert "<" not in said and "\x1b" not in said and "pwned" not in said
    assert len(said) < 300


async def test_the_cockpit_reads_a_vendor_on_instatus(tmp_path: Path) -> None:
    from app_helpers import fast_settings

    from tui.sources.hub import Sources

    clay = discover_runbooks().get("clay")
    vendor = clay.vendor.model_copy(update={"status_page_format": "instatus"})
    runbook = clay.model_copy(update={"vendor": vendor})
    async with running_sandbox("clay-vendor-outage") as sb:
        sources = Sources(fast_settings(sb, tmp_path), runbook)
        try:
            status, _ = await sources.read_status()
        finally:
            await sources.close()
    value: Any = status.value
    assert value is not None and value.indicator != "none" and value.incidents
