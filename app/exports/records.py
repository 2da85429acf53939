"""The Bitable fields of an alert, an incident and an execution (the columns a team's table needs).

Text columns get strings, Number columns numbers, Date columns milliseconds since the
epoch (UTC; Bitable shows them in the viewer's zone). Text is redacted; people are
shown by their inventory names.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.alerts.models import Alert
from app.automation.models import Execution, ExecutionStatus
from app.automation.redact import redact
from app.exports.bitable_api import ID_FIELD
from app.incidents.models import Incident, IncidentStatus
from app.infra.db import db
from app.users.service import display_name

TEXT_MAX = 2000


def _ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; every one we store is UTC
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def _person(open_id: str | None) -> str:
    return display_name(open_id) if open_id else ""


def _text(value: str | None) -> str:
    return redact(value or "")[:TEXT_MAX]


def alert_fields(alert: Alert) -> dict[str, Any]:
    return {
        ID_FIELD: f"A-{alert.id}", "Alert": alert.alertname, "Severity": str(alert.severity),
        "Status": str(alert.status), "Service": alert.service or "", "Host": alert.host or "",
        "Summary": _text(alert.summary), "Count": alert.count, "Started": _ms(alert.starts_at),
        "Acknowledged by": _person(alert.acked_by), "Acknowledged": _ms(alert.acked_at),
        "Resolved": _ms(alert.resolved_at),
    }


def incident_fields(incident: Incident) -> dict[str, Any]:
    return {
        ID_FIELD: incident.ref, "Title": _text(incident.title), "Severity": str(incident.severity),
        "Status": str(incident.status), "Commander": _person(incident.commander),
        "Opened": _ms(incident.created_at), "Resolved": _ms(incident.resolved_at),
        "Alerts": ", ".join(f"A-{i}" for i in incident.alert_ids or []), "Summary": _text(incident.summary),
    }


def execution_fields(execution: Execution) -> dict[str, Any]:
    return {
        ID_FIELD: f"EX-{execution.id}", "Kind": str(execution.kind), "Target": execution.target,
        "Status": str(execution.status), "Requested by": _person(execution.requested_by),
        "Approver": _person(execution.approver), "Requested": _ms(execution.created_at),
        "Finished": _ms(execution.finished_at),
        "Duration (s)": round(execution.duration_ms / 1000, 1) if execution.duration_ms is not None else None,
        "Summary": _text(execution.summary),
    }


@dataclass(frozen=True)
class Kind:
    """One exported kind: its model, its fields, and when a row will not change again."""

    name: str
    prefix: str  # of our id in the table: A-12, INC-7, EX-31
    model: Any
    fields: Callable[[Any], dict[str, Any]]
    final: Callable[[Any], bool]


KINDS: dict[str, Kind] = {
    "alerts": Kind("alerts", "A-", Alert, alert_fields, lambda a: str(a.status) == "resolved"),
    "incidents": Kind("incidents", "INC-", Incident, incident_fields, lambda i: i.status != IncidentStatus.OPEN),
    "executions": Kind("executions", "EX-", Execution, execution_fields,
                       lambda e: ExecutionStatus(e.status).finished),
}


def load(kind: Kind, ids: list[int]) -> list[Any]:
    if not ids:
        return []
    return list(db.session.scalars(db.select(kind.model).where(kind.model.id.in_(ids)).order_by(kind.model.id)))
