"""Alert lists for the pages and the API: filter by state, severity, service, host and text."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from app.alerts.models import Alert, Silence
from app.alerts.types import AlertStatus, Severity
from app.audit.models import AuditEvent
from app.infra.db import db
from app.web.queries.pages import Page, paginate

OPEN = (AlertStatus.FIRING.value, AlertStatus.ACKNOWLEDGED.value)


@dataclass(frozen=True)
class AlertFilter:
    """status: firing/acknowledged/resolved/open/all; the rest exact matches (q: text in name or summary)."""

    status: str = "open"
    severity: str | None = None
    service: str | None = None
    host: str | None = None
    q: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> AlertFilter:
        """From request args; ValueError naming a bad value."""
        status = (args.get("status") or "open").strip()
        if status not in ("open", "all", *[s.value for s in AlertStatus]):
            raise ValueError(f"status must be open, all, {', '.join(s.value for s in AlertStatus)}")
        severity = (args.get("severity") or "").strip() or None
        if severity is not None and severity not in [s.value for s in Severity]:
            raise ValueError(f"severity must be one of {', '.join(s.value for s in Severity)}")
        return cls(status=status, severity=severity, service=(args.get("service") or "").strip()[:200] or None,
                   host=(args.get("host") or "").strip()[:255] or None, q=(args.get("q") or "").strip()[:200] or None)


def list_alerts(flt: AlertFilter, page: int, per_page: int) -> Page[Alert]:
    """Alerts matching flt, newest first."""
    query = select(Alert).order_by(Alert.created_at.desc(), Alert.id.desc())
    if flt.status == "open":
        query = query.where(Alert.status.in_(OPEN))
    elif flt.status != "all":
        query = query.where(Alert.status == flt.status)
    if flt.severity:
        query = query.where(Alert.severity == flt.severity)
    if flt.service:
        query = query.where(Alert.service == flt.service)
    if flt.host:
        query = query.where(Alert.host == flt.host)
    if flt.q:
        like = f"%{flt.q}%"
        query = query.where(or_(Alert.alertname.ilike(like), Alert.summary.ilike(like)))
    return paginate(query, page, per_page)


def open_by_severity() -> dict[str, int]:
    """Open alerts counted per severity (every severity present, zero included)."""
    counts = {s.value: 0 for s in Severity}
    rows = db.session.execute(
        select(Alert.severity, func.count()).where(Alert.status.in_(OPEN)).group_by(Alert.severity)
    )
    for severity, count in rows:
        counts[str(severity)] = count
    return counts


def history(alert: Alert, limit: int = 100) -> list[AuditEvent]:
    """Audit records about this alert, oldest first."""
    rows = db.session.execute(
        select(AuditEvent).where(AuditEvent.target == f"alert:{alert.id}").order_by(AuditEvent.seq.desc()).limit(limit)
    ).scalars()
    return list(reversed(list(rows)))


def list_silences(*, active: bool, page: int, per_page: int, now: Any) -> Page[Silence]:
    """Active silences (ending soonest first) or past ones (newest first)."""
    query = select(Silence)
    if active:
        query = query.where(Silence.removed_at.is_(None), Silence.ends_at > now).order_by(Silence.ends_at)
    else:
        query = query.where(or_(Silence.removed_at.is_not(None), Silence.ends_at <= now)).order_by(Silence.id.desc())
    return paginate(query, page, per_page)
