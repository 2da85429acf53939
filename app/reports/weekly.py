"""The weekly ops report: one local week of alerts, response times, incidents, changes and model use.

Gathered from the tables OpenClaw already keeps; rendered as a Feishu card (weekly_card)
and as an admin page. Weeks are local (TIMEZONE) and start on Monday.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from app import localtime
from app.ai.models import LLMCall
from app.alerts.models import Alert
from app.automation.models import Execution, ExecutionKind
from app.incidents.models import Incident
from app.infra.db import db
from app.reports import response

HISTORY_WEEKS = 4  # MTTA/MTTR of this week against the weeks before it
NOISIEST = 5


@dataclass(frozen=True)
class Change:
    """A deploy or runbook run of the week."""

    id: int
    kind: str
    target: str
    detail: str
    status: str
    requested_by: str


@dataclass
class WeeklyReport:
    """Everything the report says about one week."""

    week: str
    start: datetime
    end: datetime
    alerts_by_severity: dict[str, int] = field(default_factory=dict)
    alerts_by_service: dict[str, int] = field(default_factory=dict)
    alerts_per_day: list[tuple[str, int]] = field(default_factory=list)
    noisiest: list[tuple[str, int]] = field(default_factory=list)  # (alert, times it fired incl. repeats)
    history: list[response.Group] = field(default_factory=list)  # oldest first; the last is this week
    incidents: list[Incident] = field(default_factory=list)
    deploys: list[Change] = field(default_factory=list)
    runbooks: list[Change] = field(default_factory=list)
    model_calls: int = 0
    model_failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_by_model: dict[str, int] = field(default_factory=dict)

    @property
    def alerts(self) -> int:
        return sum(self.alerts_by_severity.values())

    @property
    def this_week(self) -> response.Group:
        return self.history[-1]

    def outcomes(self, changes: list[Change]) -> dict[str, int]:
        """How many ended in each status."""
        counts: dict[str, int] = {}
        for change in changes:
            counts[change.status] = counts.get(change.status, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "week": self.week, "start": self.start.isoformat(), "end": self.end.isoformat(),
            "timezone": localtime.zone().key, "alerts": self.alerts,
            "alerts_by_severity": self.alerts_by_severity, "alerts_by_service": self.alerts_by_service,
            "alerts_per_day": [{"day": d, "alerts": n} for d, n in self.alerts_per_day],
            "noisiest": [{"alert": a, "fired": n} for a, n in self.noisiest],
            "response": [g.as_dict() for g in self.history],
            "incidents": [{"id": i.id, "ref": i.ref, "title": i.title, "severity": str(i.severity),
                           "status": str(i.status)} for i in self.incidents],
            "deploys": [c.__dict__ for c in self.deploys], "runbooks": [c.__dict__ for c in self.runbooks],
            "model": {"calls": self.model_calls, "failed": self.model_failed, "input_tokens": self.input_tokens,
                      "output_tokens": self.output_tokens, "tokens_by_model": self.tokens_by_model},
        }


def _change(execution: Execution) -> Change:
    args = execution.args or {}
    if execution.kind == ExecutionKind.DEPLOY:
        detail = " ".join(str(v) for v in (args.get("env"), args.get("version")) if v)
    else:
        detail = " ".join(f"{k}={v}" for k, v in sorted(args.items()) if k not in ("host",))
    return Change(execution.id, str(execution.kind), execution.target, detail, str(execution.status),
                  execution.requested_by)


def build(start: datetime) -> WeeklyReport:
    """The report of the local week that begins at start (a week_start)."""
    end = localtime.week_start(start + timedelta(days=7, hours=12))
    report = WeeklyReport(localtime.week_label(start), start, end)
    in_week = (Alert.created_at >= start, Alert.created_at < end)
    per_severity = select(Alert.severity, func.count()).where(*in_week).group_by(Alert.severity)
    for severity, n in db.session.execute(per_severity):
        report.alerts_by_severity[str(severity)] = int(n)
    by_service = select(Alert.service, func.count()).where(*in_week).group_by(Alert.service).order_by(
        func.count().desc(), Alert.service)
    report.alerts_by_service = {str(s or "-"): int(n) for s, n in db.session.execute(by_service)}
    days: dict[str, int] = {}
    day = start
    while day < end:
        days[localtime.local(day).strftime("%a %m-%d")] = 0
        day = localtime.day_start(day + timedelta(days=1, hours=12))
    for (created,) in db.session.execute(select(Alert.created_at).where(*in_week)):
        label = localtime.local(created).strftime("%a %m-%d")
        days[label] = days.get(label, 0) + 1
    report.alerts_per_day = list(days.items())
    noisy = select(Alert.alertname, Alert.host, func.sum(Alert.count)).where(*in_week).group_by(
        Alert.alertname, Alert.host).order_by(func.sum(Alert.count).desc(), Alert.alertname).limit(NOISIEST)
    report.noisiest = [(f"{name} on {host}" if host else name, int(n)) for name, host, n in db.session.execute(noisy)]
    history_start = localtime.week_start(start - timedelta(days=7 * (HISTORY_WEEKS - 1)) + timedelta(hours=12))
    report.history = response.compute(history_start, end).weeks
    report.incidents = list(db.session.execute(
        select(Incident).where(Incident.created_at >= start, Incident.created_at < end).order_by(Incident.id)
    ).scalars())
    changes = db.session.execute(
        select(Execution).where(Execution.created_at >= start, Execution.created_at < end,
                                Execution.kind.in_([ExecutionKind.DEPLOY, ExecutionKind.RUN])).order_by(Execution.id)
    ).scalars()
    for execution in changes:
        (report.deploys if execution.kind == ExecutionKind.DEPLOY else report.runbooks).append(_change(execution))
    calls = select(LLMCall.model, func.count(), func.sum(case((LLMCall.status == "error", 1), else_=0)),
                   func.coalesce(func.sum(LLMCall.input_tokens), 0), func.coalesce(func.sum(LLMCall.output_tokens), 0)
                   ).where(LLMCall.timestamp >= start, LLMCall.timestamp < end).group_by(LLMCall.model)
    for model, n, failed, tokens_in, tokens_out in db.session.execute(calls):
        report.model_calls += int(n)
        report.model_failed += int(failed or 0)
        report.input_tokens += int(tokens_in)
        report.output_tokens += int(tokens_out)
        report.tokens_by_model[str(model)] = int(tokens_in) + int(tokens_out)
    return report


def previous_week_start(now: datetime) -> datetime:
    """Start of the last complete local week before now."""
    return localtime.week_start(localtime.week_start(now) - timedelta(hours=12))
