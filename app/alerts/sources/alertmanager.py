"""Prometheus Alertmanager webhook_config payloads (version 4) as AlertIn values."""
from __future__ import annotations

from typing import Any

from app.alerts.errors import AlertParseError
from app.alerts.sources.common import MAX_TEXT, host_of, parse_time, severity_of, stable_hash, string_map
from app.alerts.types import AlertIn, AlertStatus

SOURCE = "alertmanager"


def parse(payload: Any, *, max_alerts: int = 1000) -> list[AlertIn]:
    """Every alert in a version 4 notification; AlertParseError naming the first problem."""
    if not isinstance(payload, dict):
        raise AlertParseError("body must be a JSON object (Alertmanager webhook payload)")
    version = str(payload.get("version", "4"))
    if version != "4":
        raise AlertParseError(f"unsupported payload version {version!r} (expected 4)")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise AlertParseError("alerts must be a list")
    if len(alerts) > max_alerts:
        raise AlertParseError(f"too many alerts in one request: {len(alerts)} > {max_alerts}")
    common = string_map(payload.get("commonLabels"), where="commonLabels")
    return [_alert(raw, common, f"alerts[{i}]") for i, raw in enumerate(alerts)]


def _alert(raw: Any, common: dict[str, str], where: str) -> AlertIn:
    if not isinstance(raw, dict):
        raise AlertParseError(f"{where} must be an object")
    labels = {**common, **string_map(raw.get("labels"), where=f"{where}.labels")}
    annotations = string_map(raw.get("annotations"), where=f"{where}.annotations")
    if not labels.get("alertname"):
        raise AlertParseError(f"{where}.labels.alertname is required")
    status_raw = raw.get("status", "firing")
    if status_raw not in ("firing", "resolved"):
        raise AlertParseError(f"{where}.status must be firing or resolved, got {status_raw!r}")
    fingerprint = raw.get("fingerprint")
    if fingerprint is not None and (not isinstance(fingerprint, str) or not 0 < len(fingerprint) <= 64):
        raise AlertParseError(f"{where}.fingerprint must be a string of at most 64 characters")
    if not fingerprint:  # old Alertmanagers: hash the label set as Alertmanager does, in spirit
        fingerprint = stable_hash(f"{k}={v}" for k, v in sorted(labels.items()))
    summary = annotations.get("summary") or annotations.get("description") or annotations.get("message") or ""
    generator = raw.get("generatorURL")
    return AlertIn(
        source=SOURCE,
        status=AlertStatus(status_raw),
        alertname=labels["alertname"][:200],
        severity=severity_of(labels.get("severity"), strict=False, where=f"{where}.labels.severity"),
        fingerprint=f"am:{fingerprint}",
        host=host_of(labels),
        service=(labels.get("service") or labels.get("app") or None),
        summary=summary[:MAX_TEXT],
        labels=labels,
        annotations=annotations,
        value=annotations.get("value"),
        starts_at=parse_time(raw.get("startsAt"), where=f"{where}.startsAt"),
        ends_at=parse_time(raw.get("endsAt"), where=f"{where}.endsAt") if status_raw == "resolved" else None,
        generator_url=generator[:1000] if isinstance(generator, str) and generator else None,
    )
