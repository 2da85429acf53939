"""Incident lists and details for the pages and the API: filters, timeline, linked alerts and actions."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select

from app.incidents.models import Incident, IncidentSeverity, IncidentStatus
from app.web.queries.pages import Page, paginate


@dataclass(frozen=True)
class IncidentFilter:
    """status: open/resolved/all; severity: sev1..sev4; q: text in the title or summary."""

    status: str = "all"
    severity: str | None = None
    q: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> IncidentFilter:
        """From request args; ValueError naming a bad value."""
        status = (args.get("status") or "all").strip()
        if status not in ("all", *[s.value for s in IncidentStatus]):
            raise ValueError(f"status must be all, {', '.join(s.value for s in IncidentStatus)}")
        severity = (args.get("severity") or "").strip() or None
        if severity is not None and severity not in [s.value for s in IncidentSeverity]:
            raise ValueError(f"severity must be one of {', '.join(s.value for s in IncidentSeverity)}")
        return cls(status=status, severity=severity, q=(args.get("q") or "").strip()[:200] or None)


def list_incidents(flt: IncidentFilter, page: int, per_page: int) -> Page[Incident]:
    """Incidents matching flt, newest first."""
    query = select(Incident).order_by(Incident.id.desc())
    if flt.status != "all":
        query = query.where(Incident.status == flt.status)
    if flt.severity:
        query = query.where(Incident.severity == flt.severity)
    if flt.q:
        like = f"%{flt.q}%"
        query = query.where(or_(Incident.title.ilike(like), Incident.summary.ilike(like)))
    return paginate(query, page, per_page)
