"""Stakeholder updates: the runbook's templates filled from the incident, and the Slack post.

No Textual here: the cockpit's comms screen and any script can use it alike.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import httpx

from tui.errors import CommsError
from tui.record.incident import Incident

__all__ = [
    "CHANNELS",
    "CommsError",
    "Draft",
    "drafts",
    "fill",
    "post_to_slack",
    "webhook_label",
]

Channel = Literal["internal", "external"]
CHANNELS: tuple[Channel, ...] = ("internal", "external")
"""``internal``: the Slack message; ``external``: the public status-page update."""


@dataclass
class Draft:
    """One update ready to edit and send."""

    channel: Channel
    title: str
    text: str

    @property
    def destination(self) -> str:
        return "Slack" if self.channel == "internal" else "status page"


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with its ``{placeholders}`` replaced; unknown ones become empty, so a
    runbook template never raises in the middle of an incident."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return template.format(**{name: values.get(name, "") for name in names})


def drafts(incident: Incident, now: datetime) -> list[Draft]:
    """The runbook's internal and external updates filled from the incident as it is now;
    empty when the runbook has no comms templates."""
    comms = incident.runbook.comms
    if comms is None:
        return []
    values = incident.comms_values(now)
    return [
        Draft("internal", fill(comms.internal.title, values), fill(comms.internal.body, values)),
        Draft("external", fill(comms.external.title, values), fill(comms.external.body, values)),
    ]


def webhook_label(url: str) -> str:
    """How a webhook URL may be shown: scheme and host only, since the path is the secret."""
    parsed = httpx.URL(url)
    if not parsed.host:
        return "the Slack webhook"
    return f"{parsed.scheme}://{parsed.host}/…"


async def post_to_slack(
    webhook_url: str | None,
    text: str,
    *,
    client: httpx.AsyncClient | None = None,
    timeout: float = 10.0,
) -> None:
    """POST ``{"text": text}`` to a Slack incoming webhook; every failure is one
    :class:`CommsError` sentence that never holds the webhook's path."""
    if not webhook_url:
        raise CommsError(
            "No Slack webhook is configured; set slack.webhook_url in the config "
            "or INCIDENT_TUI_SLACK__WEBHOOK_URL."
        )
    if not text.strip():
        raise CommsError("The update is empty; write something before posting it.")
    try:
        target = webhook_label(webhook_url)
    except (httpx.InvalidURL, ValueError):
        raise CommsError("The Slack webhook URL in the settings is not a valid URL.") from None
    owned = client is None
    http = client or httpx.AsyncClient()
    try:
        response = await http.post(webhook_url, json={"text": text}, timeout=timeout)
    except httpx.TimeoutException:
        raise CommsError(f"Slack did not answer within {timeout:g} s ({target}).") from None
    except httpx.HTTPError as exc:
        raise CommsError(f"Slack could not be reached ({target}): {type(exc).__name__}.") from None
    finally:
        if owned:
            await http.aclose()
    if response.status_code >= 400:
        reason = response.text.strip().splitlines()[0][:80] if response.text.strip() else ""
        said = f": {reason}" if reason else ""
        raise CommsError(f"Slack refused the update with HTTP {response.status_code}{said}.")
