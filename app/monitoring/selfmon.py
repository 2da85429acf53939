"""Self-monitoring without Prometheus: two rules evaluated in-app and raised as OpenClaw's own alerts.

- OpenClawSlowModelCalls: at least SELFMON_SLOW_CALLS model calls slower than LLM_SLOW_MS
  within 5 minutes, per model (the same rule as deploy/prometheus/rules.yml).
- OpenClawHighErrorRate: at least SELFMON_ERRORS handled errors within 5 minutes.

Firing alerts go through ingest() like any webhook's, so dedup, routing, cards and
escalation apply; an open one whose condition cleared is resolved the same way.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from app.ai.models import LLMCall
from app.alerts.ingest import IngestResult, ingest
from app.alerts.models import Alert
from app.alerts.tasks import queue_notifications
from app.alerts.types import AlertIn, AlertStatus, Severity
from app.infra.db import db, utcnow
from app.infra.redis import get_redis
from app.inventory import get_inventory
from app.monitoring import error_window

logger = logging.getLogger(__name__)

SOURCE = "openclaw"
WINDOW = timedelta(minutes=5)
SLOW = "OpenClawSlowModelCalls"
ERRORS = "OpenClawHighErrorRate"


@dataclass(frozen=True)
class Finding:
    alertname: str
    key: str  # what makes one finding distinct (the model), "" for global rules
    summary: str
    value: str
    labels: dict[str, str]


def slow_models(now: datetime, *, slow_ms: int, threshold: int) -> list[Finding]:
    """Models with at least threshold calls slower than slow_ms in the last five minutes."""
    rows = db.session.execute(
        select(LLMCall.model, func.count(), func.max(LLMCall.duration_ms))
        .where(LLMCall.timestamp >= now - WINDOW, LLMCall.duration_ms > slow_ms)
        .group_by(LLMCall.model).having(func.count() >= threshold)
    ).all()
    return [Finding(SLOW, model, f"{count} calls to {model} slower than {slow_ms} ms in 5 minutes "
                    f"(slowest {slowest / 1000:.1f} s)", str(count), {"model": model})
            for model, count, slowest in rows]


def error_rate(*, threshold: int) -> list[Finding]:
    """One finding when at least threshold errors were counted in the last five minutes."""
    count = error_window.count(int(WINDOW.total_seconds()))
    if count < threshold:
        return []
    per_second = count / WINDOW.total_seconds()
    return [Finding(ERRORS, "", f"{count} handled errors in 5 minutes ({per_second:.2f}/s)", str(count), {})]


def fingerprint(alertname: str, key: str) -> str:
    return f"openclaw:{alertname}:{key}"[:80]


def _alert(finding: Finding, status: AlertStatus, now: datetime, fp: str | None = None) -> AlertIn:
    labels = {"alertname": finding.alertname, "severity": Severity.WARNING.value, "service": "openclaw",
              **finding.labels}
    return AlertIn(source=SOURCE, status=status, alertname=finding.alertname, severity=Severity.WARNING,
                   fingerprint=fp or fingerprint(finding.alertname, finding.key), service="openclaw",
                   summary=finding.summary, labels=labels, value=finding.value,
                   starts_at=now if status == AlertStatus.FIRING else None,
                   ends_at=now if status == AlertStatus.RESOLVED else None)


def evaluate(now: datetime | None = None) -> IngestResult:
    """Raise what fires, resolve what cleared; returns what ingest changed."""
    now = now or utcnow()
    config = current_app.config
    findings = slow_models(now, slow_ms=int(config["LLM_SLOW_MS"]), threshold=int(config["SELFMON_SLOW_CALLS"]))
    findings += error_rate(threshold=int(config["SELFMON_ERRORS"]))
    firing = {fingerprint(f.alertname, f.key): f for f in findings}
    open_rows = db.session.execute(
        select(Alert.fingerprint, Alert.alertname, Alert.summary)
        .where(Alert.source == SOURCE, Alert.status != AlertStatus.RESOLVED.value)
    ).all()
    db.session.commit()
    alerts = [_alert(f, AlertStatus.FIRING, now) for f in firing.values()]
    alerts += [_alert(Finding(row.alertname, "", row.summary, "0", {}), AlertStatus.RESOLVED, now, row.fingerprint)
               for row in open_rows if row.fingerprint not in firing]
    if not alerts:
        return IngestResult()
    result = ingest(alerts, dedup_window=get_inventory().alerting.dedup_window, now=now, redis=get_redis())
    queue_notifications(result.to_notify)
    if result.new or result.resolved:
        logger.warning("self-monitoring alerts changed",
                       extra={"new": len(result.new), "resolved": len(result.resolved), "firing": sorted(firing)})
    return result


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    """Count handled errors into the shared window for the error-rate rule."""
    from app.infra import metrics

    error_window.bind(app.extensions.get("openclaw.redis"))
    metrics.on_error(error_window.note)
