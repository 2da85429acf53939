"""MTTA and MTTR: how fast alerts are acknowledged and resolved, and incidents closed.

- MTTA: alert received (created_at) -> first acknowledgement (acked_at);
- MTTR: alert received -> resolved (by a person or by its source);
- incident time to close: opened -> resolved.

Grouped by local week (TIMEZONE, weeks start Monday), service, severity and team (the
service's on-call schedule). Percentiles are nearest-rank in seconds, computed here
rather than in SQL so PostgreSQL and SQLite give the same figures.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app import localtime
from app.alerts.models import Alert
from app.incidents.models import Incident
from app.infra.db import db
from app.inventory import get_inventory

NO_VALUE = "-"


def percentile(values: list[float], quantile: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(quantile * len(ordered)) - 1))]


@dataclass
class Figure:
    """Durations (seconds) of one measure in one group, and how many are still open."""

    durations: list[float] = field(default_factory=list)
    open: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"count": len(self.durations), "open": self.open,
                "p50": percentile(self.durations, 0.5), "p90": percentile(self.durations, 0.9)}


@dataclass
class Group:
    """MTTA and MTTR of alerts, and time to close of incidents, for one key."""

    key: str
    mtta: Figure = field(default_factory=Figure)
    mttr: Figure = field(default_factory=Figure)
    incidents: Figure = field(default_factory=Figure)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "mtta": self.mtta.as_dict(), "mttr": self.mttr.as_dict(),
                "incidents": self.incidents.as_dict()}


@dataclass(frozen=True)
class Response:
    """Everything between start and end: overall, per week (oldest first), per service, severity and team."""

    start: datetime
    end: datetime
    overall: Group
    weeks: list[Group]
    by_service: list[Group]
    by_severity: list[Group]
    by_team: list[Group]

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "timezone": localtime.zone().key,
                "overall": self.overall.as_dict(), "weeks": [g.as_dict() for g in self.weeks],
                "by_service": [g.as_dict() for g in self.by_service],
                "by_severity": [g.as_dict() for g in self.by_severity],
                "by_team": [g.as_dict() for g in self.by_team]}


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else max(0.0, (end - start).total_seconds())


def _add(figure: Figure, value: float | None) -> None:
    if value is None:
        figure.open += 1
    else:
        figure.durations.append(value)


def team_of(service: str | None) -> str:
    """The team answering for a service: its on-call schedule's name."""
    services = get_inventory().services
    if service and service in services and services[service].oncall:
        return str(services[service].oncall)
    return NO_VALUE


def compute(start: datetime, end: datetime) -> Response:
    """The figures for alerts received and incidents opened in [start, end); still-open ones count as open."""
    overall = Group("all")
    weeks: dict[datetime, Group] = {}
    week = localtime.week_start(start)
    while week < end:
        weeks[week] = Group(localtime.week_label(week))
        week = localtime.week_start(week + timedelta(days=7, hours=12))
    groups: dict[str, dict[str, Group]] = {"service": {}, "severity": {}, "team": {}}

    def targets(created: datetime, service: str | None, severity: str) -> Iterable[Group]:
        yield overall
        yield weeks.setdefault(localtime.week_start(created), Group(localtime.week_label(created)))
        for kind, key in (("service", service or NO_VALUE), ("severity", severity), ("team", team_of(service))):
            yield groups[kind].setdefault(key, Group(key))

    alerts = select(Alert.created_at, Alert.acked_at, Alert.resolved_at, Alert.service, Alert.severity).where(
        Alert.created_at >= start, Alert.created_at < end)
    for created, acked, resolved, service, severity in db.session.execute(alerts):
        for group in targets(created, service, str(severity)):
            # An alert resolved before anyone acknowledged it needs no acknowledgement: not counted in MTTA.
            if acked is not None or resolved is None:
                _add(group.mtta, _seconds(created, acked))
            _add(group.mttr, _seconds(created, resolved))
    incidents = select(Incident.created_at, Incident.resolved_at, Incident.severity).where(
        Incident.created_at >= start, Incident.created_at < end)
    for created, resolved, severity in db.session.execute(incidents):
        week_group = weeks.setdefault(localtime.week_start(created), Group(localtime.week_label(created)))
        for group in (overall, week_group, groups["severity"].setdefault(str(severity), Group(str(severity)))):
            _add(group.incidents, _seconds(created, resolved))

    def ordered(kind: str, key: Callable[[Group], Any] = lambda g: g.key) -> list[Group]:
        return sorted(groups[kind].values(), key=key)

    busiest = lambda g: (-(len(g.mttr.durations) + g.mttr.open), g.key)  # noqa: E731
    return Response(start, end, overall, [weeks[k] for k in sorted(weeks)], ordered("service", busiest),
                    ordered("severity"), ordered("team", busiest))


def last_weeks(count: int, *, now: datetime) -> Response:
    """The figures of the current local week and the count - 1 before it."""
    this_week = localtime.week_start(now)
    start = localtime.week_start(this_week - timedelta(days=7 * (count - 1)) + timedelta(hours=12))
    return compute(start, now)
