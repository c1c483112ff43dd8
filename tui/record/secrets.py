"""The secret redactor: every event is masked before it is written, printed or exported;
values registered at run time (a new API key typed in) are masked wherever they appear."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

from tui.record.event import Event

__all__ = ["MASK", "Redactor", "mask", "redact", "register_secret"]


# --------------------------------------------------------------------------- secrets

MASK = "••••"

_TOKEN_PATTERNS = [
    r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9_]{6,}",
    r"\bwhsec_[A-Za-z0-9+/=_]{8,}",
    r"\bxox[abposr]-[A-Za-z0-9-]{8,}",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
]
# keep the scheme or key name readable, hide what follows it
_PREFIXED_PATTERNS = [
    r"(?i:\b(?:bearer|basic)\s+)",
    r"(?i:\b(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|client[_-]?secret"
    r"|secret[_-]?key|password|passwd|token)[\"']?\s*[:=]\s*[\"']?)",
]
_SECRET_KEYS = re.compile(
    r"(?i)^(?:.*[_-])?(?:api[_-]?key|apikey|token|access[_-]?token|password|passwd"
    r"|secret[_-]?value|client[_-]?secret|authorization|new[_-]?value|old[_-]?value"
    r"|credentials?)$"
)
_global_secrets: set[str] = set()
_global_lock = threading.Lock()
_global_version = 0
_MIN_SECRET = 4
# every pattern above contains one of these (lowercased); a text with none of them and no
# known secret is returned as is, which keeps masking a long export cheap
_TRIGGERS = (
    "sk_",
    "rk_",
    "whsec_",
    "xox",
    "gh",
    "akia",
    "asia",
    "eyj",
    "bearer",
    "basic",
    "key",
    "token",
    "secret",
    "passw",
)
_TRIGGER = re.compile("|".join(re.escape(t) for t in _TRIGGERS))


def mask(value: str) -> str:
    """``••••0001``: at most the last 4 characters of a secret, and only of a long one."""
    return MASK + value[-4:] if len(value) >= 12 else MASK


def register_secret(value: str) -> None:
    """Mask this value in everything this process writes to a journal or an export."""
    global _global_version
    if value and len(value) >= _MIN_SECRET:
        with _global_lock:
            if value not in _global_secrets:
                _global_secrets.add(value)
                _global_version += 1


class Redactor:
    """Masks known secret values and common token shapes in text and nested data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = {s for s in secrets if s and len(s) >= _MIN_SECRET}
        self._version = 0
        self._compiled_for: tuple[int, int] | None = None
        self._known: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str) -> None:
        """Mask this value from now on."""
        if value and len(value) >= _MIN_SECRET and value not in self._secrets:
            self._secrets.add(value)
            self._version += 1

    def _regex(self) -> re.Pattern[str]:
        stamp = (self._version, _global_version)
        if self._pattern is None or stamp != self._compiled_for:
            with _global_lock:
                known = self._secrets | _global_secrets
            # longest first, so a secret containing another is masked whole
            self._known = tuple(sorted(known, key=len, reverse=True))
            literal = "|".join(re.escape(s) for s in self._known)
            parts = [f"(?P<lit>{literal})"] if literal else []
            parts += [
                f"(?P<pre{i}>{p})(?P<val{i}>[^\\s\"'&,;•]{{6,}})"
                for i, p in enumerate(_PREFIXED_PATTERNS)
            ]
            parts += [f"(?P<tok{i}>{p})" for i, p in enumerate(_TOKEN_PATTERNS)]
            self._pattern = re.compile("|".join(parts))
            self._compiled_for = stamp
        return self._pattern

    @staticmethod
    def _replace(match: re.Match[str]) -> str:
        for name, value in match.groupdict().items():
            if value is None:
                continue
            if name.startswith("pre"):
                return value + mask(match.group("val" + name[3:]))
            return mask(value)
        return match.group(0)

    def needs_masking(self, value: str) -> bool:
        """Whether the text might hold a secret (a known value, or a word that precedes or
        starts a credential); False means :meth:`text` would return it unchanged."""
        self._regex()  # brings the registered secrets up to date
        return _TRIGGER.search(value.lower()) is not None or (
            bool(self._known) and any(s in value for s in self._known)
        )

    def text(self, value: str) -> str:
        """The text with every secret in it masked."""
        if not self.needs_masking(value):
            return value
        return self._regex().sub(self._replace, value)

    def data(self, value: Any, key: str | None = None) -> Any:
        """Nested dicts, lists and strings with secrets masked; a string under a key that
        names a credential (``token``, ``password``, ``api_key``…) is masked whole."""
        if isinstance(value, str):
            if key is not None and _SECRET_KEYS.match(key) and value:
                return mask(value)
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def event(self, event: Event) -> Event:
        """The event with its summary, actor and details masked."""
        return event.model_copy(
            update={
                "summary": self.text(event.summary),
                "actor": self.text(event.actor),
                "details": self.data(event.details),
            }
        )


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Mask secrets in a string or nested data: ``secrets`` given here, values passed to
    :func:`register_secret`, and common token shapes."""
    return Redactor(secrets).data(value)
