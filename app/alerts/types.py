"""AlertIn: one alert as a source reported it, normalised; the input of service.ingest."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad it is; critical alerts escalate."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertStatus(StrEnum):
    """firing, acknowledged (claimed by a person) or resolved (closed)."""

    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class AlertIn:
    """A normalised alert from any source; fingerprint is the source's own when it has one."""

    source: str
    status: AlertStatus
    alertname: str
    severity: Severity
    fingerprint: str
    host: str | None = None
    service: str | None = None
    summary: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    value: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str | None = None


def match_labels(labels: dict[str, Any], **fields: Any) -> dict[str, str]:
    """labels with the normalised fields added (fields win only when set)."""
    merged = {str(k): str(v) for k, v in labels.items()}
    for key, value in fields.items():
        if value is not None and value != "":
            merged[key] = str(value)
    return merged
