"""Helpers shared by the source parsers: severities, timestamps, hosts, fingerprints."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from app.alerts.errors import AlertParseError
from app.alerts.types import Severity

_SEVERITY_WORDS = {
    "critical": Severity.CRITICAL, "crit": Severity.CRITICAL, "page": Severity.CRITICAL, "fatal": Severity.CRITICAL,
    "emergency": Severity.CRITICAL, "error": Severity.CRITICAL, "high": Severity.CRITICAL, "p1": Severity.CRITICAL,
    "warning": Severity.WARNING, "warn": Severity.WARNING, "medium": Severity.WARNING, "p2": Severity.WARNING,
    "info": Severity.INFO, "informational": Severity.INFO, "low": Severity.INFO, "none": Severity.INFO,
}
MAX_TEXT = 4000


def severity_of(raw: Any, *, strict: bool, where: str) -> Severity:
    """A Severity from a word; unknown words are info unless strict (then AlertParseError)."""
    if raw is None or raw == "":
        if strict:
            raise AlertParseError(f"{where}: severity is required (critical, warning or info)")
        return Severity.WARNING
    word = str(raw).strip().lower()
    if strict and word not in ("critical", "warning", "info"):
        raise AlertParseError(f"{where}: severity must be critical, warning or info, got {raw!r}")
    return _SEVERITY_WORDS.get(word, Severity.INFO)


def parse_time(raw: Any, *, where: str) -> datetime | None:
    """An RFC 3339 string or a Unix timestamp (s or ms) as aware UTC; None for empty or Go's zero time."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise AlertParseError(f"{where}: not a timestamp: {raw!r}")
    if isinstance(raw, (int, float)):
        seconds = raw / 1000 if raw > 1e11 else raw
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise AlertParseError(f"{where}: timestamp out of range: {raw!r}") from None
    if not isinstance(raw, str):
        raise AlertParseError(f"{where}: not a timestamp: {raw!r}")
    text = raw.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # Go writes nanoseconds; Python takes at most microseconds
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits):]
        text = f"{head}.{digits[:6]}{zone}" if digits else f"{head}{zone}"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise AlertParseError(f"{where}: not an RFC 3339 time: {raw!r}") from None
    if value.year <= 1:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def host_of(labels: Mapping[str, str]) -> str | None:
    """The host an alert is about: host/hostname/nodename, else instance without its port."""
    for key in ("host", "hostname", "nodename", "node"):
        if labels.get(key):
            return labels[key][:255]
    instance = labels.get("instance")
    if not instance:
        return None
    if instance.startswith("["):  # [::1]:9100
        return instance[1:].split("]", 1)[0][:255]
    name, sep, port = instance.rpartition(":")
    return (name if sep and port.isdigit() else instance)[:255]


def string_map(raw: Any, *, where: str) -> dict[str, str]:
    """A JSON object of strings (numbers and booleans are stringified); AlertParseError otherwise."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise AlertParseError(f"{where} must be an object of strings")
    result: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, (dict, list)) or value is None:
            raise AlertParseError(f"{where}.{key} must be a string")
        result[str(key)[:200]] = str(value)[:MAX_TEXT]
    return result


def stable_hash(parts: Iterable[str]) -> str:
    """A 32-hex-digit digest of parts, independent of process and run."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:32]
