"""The bearer tokens the sandbox's API server accepts: the kubeconfig's own, which never
expires, and short-lived ones issued to an exec credential plugin, answered with 401 once
their time is up (as a real cluster answers an expired EKS, GKE or AKS token)."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Tokens"]


class Tokens:
    """Who may call the API: the static token, and the tokens issued until they expire."""

    def __init__(self, static: str, clock: Callable[[], float] = time.time) -> None:
        self.static = static
        self.clock = clock
        self._issued: dict[str, float] = {}
        self.issued = 0
        """How many tokens were issued (one per run of the credential plugin)."""
        self.refused = 0
        """How many requests came with an issued token past its expiry (answered 401)."""

    def issue(self, ttl: float) -> tuple[str, str]:
        """A new token valid for ``ttl`` seconds, and its expiry as RFC 3339."""
        token = "exec-" + secrets.token_urlsafe(24)
        expires = self.clock() + ttl
        self._issued[token] = expires
        self.issued += 1
        return token, stamp(expires)

    def latest_expired(self) -> bool:
        """Whether the newest issued token is past its expiry."""
        return bool(self._issued) and self.clock() >= max(self._issued.values())

    def check(self, presented: str) -> str:
        """``ok``, ``expired`` or ``unknown``."""
        if hmac.compare_digest(presented.encode(), self.static.encode()):
            return "ok"
        expires = self._issued.get(presented)
        if expires is None:
            return "unknown"
        if self.clock() < expires:
            return "ok"
        self.refused += 1
        return "expired"


def stamp(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
