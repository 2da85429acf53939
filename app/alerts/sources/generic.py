"""The generic alert format (contract.md): one object or a list of them, from any monitor."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.alerts.errors import AlertParseError
from app.alerts.sources.common import MAX_TEXT, parse_time, severity_of, stable_hash, string_map
from app.alerts.types import AlertIn, AlertStatus

REQUIRED = ("source", "host", "service", "metric", "severity", "message")
DEFAULT_KEYS = ("source", "host", "service", "metric", "severity")


def parse(payload: Any, *, keys: Sequence[str] = DEFAULT_KEYS, max_alerts: int = 1000) -> list[AlertIn]:
    """The alerts in a generic payload; keys name the fields whose values make the fingerprint."""
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise AlertParseError("empty list: no alerts")
    if len(items) > max_alerts:
        raise AlertParseError(f"too many alerts in one request: {len(items)} > {max_alerts}")
    many = isinstance(payload, list)
    return [_alert(raw, keys, f"[{i}]" if many else "alert") for i, raw in enumerate(items)]


def _text(raw: dict[str, Any], name: str, where: str, limit: int = 200) -> str:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise AlertParseError(f"{where}.{name} is required")
    if isinstance(value, (dict, list, bool)):
        raise AlertParseError(f"{where}.{name} must be a string")
    return str(value).strip()[:limit]


def _alert(raw: Any, keys: Sequence[str], where: str) -> AlertIn:
    if not isinstance(raw, dict):
        raise AlertParseError(f"{where} must be an object")
    unknown = sorted(set(raw) - {*REQUIRED, "status", "labels", "value", "timestamp", "annotations"})
    if unknown:
        raise AlertParseError(f"{where}: unknown field {unknown[0]!r}")
    fields = {name: _text(raw, name, where, MAX_TEXT if name == "message" else 200) for name in REQUIRED}
    severity = severity_of(fields["severity"], strict=True, where=f"{where}.severity")
    status_raw = raw.get("status", "firing")
    if status_raw not in ("firing", "resolved"):
        raise AlertParseError(f"{where}.status must be firing or resolved, got {status_raw!r}")
    labels = string_map(raw.get("labels"), where=f"{where}.labels")
    annotations = string_map(raw.get("annotations"), where=f"{where}.annotations")
    value = raw.get("value")
    if isinstance(value, (dict, list)):
        raise AlertParseError(f"{where}.value must be a number or a string")
    when = parse_time(raw.get("timestamp"), where=f"{where}.timestamp")
    status = AlertStatus(status_raw)
    fields["severity"] = severity.value
    fields["alertname"] = fields["metric"]
    parts = [f"{key}={labels.get(key[7:], '') if key.startswith('labels.') else fields.get(key, '')}" for key in keys]
    return AlertIn(
        source=fields["source"],
        status=status,
        alertname=fields["metric"],
        severity=severity,
        fingerprint=f"gen:{stable_hash(parts)}",
        host=fields["host"],
        service=fields["service"],
        summary=fields["message"],
        labels={**labels, "metric": fields["metric"]},
        annotations=annotations,
        value=None if value is None else str(value)[:200],
        starts_at=when if status is AlertStatus.FIRING else None,
        ends_at=when if status is AlertStatus.RESOLVED else None,
    )
