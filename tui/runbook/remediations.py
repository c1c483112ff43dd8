"""The remediations a runbook offers, one model per kind, and how each is undone."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    model_validator,
)

from tui.runbook.fields import Duration, Identifier, Strict

# --------------------------------------------------------------------------- remediations


class Revert(Strict):
    """How a remediation is undone."""

    kind: Literal["previous_env", "rollout_undo", "remediation", "manual"]
    remediation: Identifier | None = None
    """With ``kind: remediation``: the remediation that undoes this one."""
    note: str | None = None

    @model_validator(mode="after")
    def _needs_target(self) -> Revert:
        if self.kind == "remediation" and self.remediation is None:
            raise ValueError("`kind: remediation` needs `remediation: <id>`")
        return self


class Param(Strict):
    """A value the responder is asked for before the remediation runs (``{user_id}``)."""

    name: Identifier
    prompt: str
    secret: bool = False
    pattern: str | None = None


class Verify(Strict):
    """How a remediation is judged once rolled out: the signals it is meant to bring back
    under their alert thresholds, how long they must stay there, and how long to wait."""

    signals: list[str] = []
    """Signal ids (the runbook's, or ``health.status`` / ``vendor.indicator``); empty: the
    signals alerting when it was applied, its error class's signal, and our health when a
    health question leads to it."""
    window: Duration = timedelta(minutes=2)
    """They must read under their thresholds this long, without a break."""
    within: Duration = timedelta(minutes=10)
    """Not effective when they have not done so this long after the rollout."""


class _RemediationBase(Strict):
    id: Identifier
    title: str
    description: str | None = None
    destructive: bool = False
    revert: Revert | None = None
    command: str | None = None
    """The equivalent shell command, shown for reference."""
    hint: str | None = None
    """What to do if it fails, beyond the error-handling table."""
    params: list[Param] = []
    verify: Verify = Verify()
    """How it is judged after its rollout: effective, or not."""
    temporary: bool = False
    """A mitigation meant to be undone once the cause is gone (a fallback, a bypass flag,
    extra replicas): while it is in effect, a degradation it causes is not read as a fault
    of ours, the cockpit advises when to revert it, and the postmortem lists the revert as
    an action item."""


class SetEnv(_RemediationBase):
    kind: Literal["set_env"]
    env: dict[str, str | None] = Field(min_length=1)
    """Variables to set; ``null`` removes one."""
    container: str | None = None


class RolloutRestart(_RemediationBase):
    kind: Literal["rollout_restart"]


class RolloutUndo(_RemediationBase):
    kind: Literal["rollout_undo"]
    destructive: bool = True
    to_revision: int | None = None
    """The revision to roll back to; the previous one when unset."""


class RolloutPause(_RemediationBase):
    kind: Literal["rollout_pause"]


class RolloutResume(_RemediationBase):
    kind: Literal["rollout_resume"]


class Scale(_RemediationBase):
    kind: Literal["scale"]
    replicas: int = Field(ge=0)

    @model_validator(mode="after")
    def _zero_is_destructive(self) -> Scale:
        if self.replicas == 0 and not self.destructive:
            raise ValueError("scaling to 0 replicas must be marked `destructive: true`")
        return self


class SetImage(_RemediationBase):
    kind: Literal["set_image"]
    image: str | None = None
    """The new image; asked for when unset."""
    container: str | None = None


class RotateSecret(_RemediationBase):
    kind: Literal["rotate_secret"]
    destructive: bool = True
    secret: str | None = None
    """The Secret to change; the service's secret when unset."""
    key: str | None = None
    """The key to replace; the service's secret_key when unset."""
    restart: bool = True
    """Restart the deployment afterwards so the pods read the new value."""


class HttpCall(_RemediationBase):
    kind: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: str
    """May hold ``{param}`` placeholders filled from ``params``."""
    headers: dict[str, str] = {}
    body: dict[str, Any] | None = None
    auth_env: str | None = None
    """Name of the environment variable holding the bearer token (never shown in full)."""
    expect_status: list[int] = [200, 201, 202, 204]
    each: str | None = None
    """For list-then-act calls: a jq-style path in the first answer naming the items to act
    on (``.[].id``, ``.data[].id``); each item is sent with ``then``."""
    then: HttpStep | None = None
    """The request sent once per item of ``each``; its url may use ``{item}`` and params."""

    @model_validator(mode="after")
    def _each_needs_then(self) -> HttpCall:
        if (self.each is None) != (self.then is None):
            raise ValueError("`each` and `then` go together: list with the call, act with `then`")
        return self


class HttpStep(Strict):
    """One request of a list-then-act remediation."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: str
    body: dict[str, Any] | None = None
    expect_status: list[int] = [200, 201, 202, 204]


class Manual(_RemediationBase):
    kind: Literal["manual"]
    steps: list[str] = []
    """What to do by hand; ``command`` holds the command to run, if any."""


HttpCall.model_rebuild()

Remediation = Annotated[
    SetEnv
    | RolloutRestart
    | RolloutUndo
    | RolloutPause
    | RolloutResume
    | Scale
    | SetImage
    | RotateSecret
    | HttpCall
    | Manual,
    Field(discriminator="kind"),
]
