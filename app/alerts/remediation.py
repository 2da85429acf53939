"""Self-healing: alerting.remediation rules run a runbook through the automation engine.

At most max_per_hour runs per rule: each run takes slot 1..max of the rule's
current hour with an INSERT the unique (rule, hour, slot) constraint lets only one
worker win. The outcome goes on the alert card; after ALERT_REMEDIATION_GRACE the
alert is checked again and escalated if it is still firing.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.alerts import escalation, service
from app.alerts.enrich import service_of
from app.alerts.models import Alert, RemediationRun
from app.alerts.routing import matches
from app.alerts.types import AlertStatus
from app.audit import service as audit
from app.errors import BotError
from app.infra.db import db, utcnow
from app.inventory import get_inventory
from app.inventory.schema import Inventory, Remediation, Role

logger = logging.getLogger(__name__)

ACTOR = "openclaw:remediation"
_OPEN = ("requested", "queued", "running", "awaiting_approval")


def rule_for(alert: Alert) -> tuple[int, Remediation] | None:
    """The first remediation rule matching the alert, with its index."""
    labels = service.labels_of(alert)
    for index, rule in enumerate(get_inventory().alerting.remediation):
        if matches(rule.match, labels):
            return index, rule
    return None


def _take_slot(alert: Alert, key: str, rule: Remediation, now: datetime) -> RemediationRun | None:
    insert: Any = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    hour = int(now.timestamp()) // 3600
    for slot in range(1, rule.max_per_hour + 1):
        stmt = (insert(RemediationRun)
                .values(alert_id=alert.id, rule=key, hour=hour, slot=slot, runbook=rule.runbook, status="requested",
                        created_at=now, checked=False)
                .on_conflict_do_nothing().returning(RemediationRun.id))
        run_id = db.session.execute(stmt).scalar_one_or_none()
        db.session.commit()
        if run_id is not None:
            return db.session.get(RemediationRun, run_id)
    return None


def maybe_run(alert: Alert, now: datetime | None = None) -> RemediationRun | None:
    """Start the matching rule's runbook for a firing alert once, within the hourly limit."""
    now = now or utcnow()
    found = rule_for(alert)
    fresh = service.get_alert(alert.id)
    if found is None or fresh is None or fresh.status != AlertStatus.FIRING:
        return None
    if db.session.scalar(select(RemediationRun.id).where(RemediationRun.alert_id == alert.id).limit(1)):
        return None
    index, rule = found
    run = _take_slot(fresh, f"{index}:{rule.runbook}", rule, now)
    if run is None:
        _note(fresh, f"self-healing {rule.runbook} skipped: limit of {rule.max_per_hour}/h reached")
        escalation.escalate_now(fresh.id, now, "remediation limit reached")
        return None
    _request(run, fresh)
    return run


def allowed_hosts(inventory: Inventory, alert: Alert, rule: Remediation | None) -> set[str]:
    """Hosts a host-less runbook may run on for this alert: the rule's hosts and its service's hosts.

    The alert's host comes from whoever holds the webhook token, so it is only trusted when the
    inventory ties it to the alert's service or to the remediation rule.
    """
    allowed = set(rule.hosts) if rule else set()
    service = service_of(inventory, alert)
    svc = inventory.services.get(service or "")
    if svc is not None:
        allowed.update(svc.hosts)
    return allowed


def _target_host(run: RemediationRun, alert: Alert) -> tuple[bool, str | None]:
    """(allowed, host): None when the runbook names its own hosts, else the alert's host if permitted."""
    inventory = get_inventory()
    book = inventory.runbooks.get(run.runbook)
    if book is None or book.hosts or not book.on_hosts:  # its own hosts, or http steps only: no alert host
        return True, None
    found = rule_for(alert)
    rule = found[1] if found else None
    return alert.host in allowed_hosts(inventory, alert, rule), alert.host


def _refuse_host(run: RemediationRun, alert: Alert, host: str | None) -> None:
    reason = (f"Refused: host {host} is not tied to the alert's service or remediation rule in the inventory."
              if host else f"Refused: the alert names no host and runbook {run.runbook} has none of its own.")
    _settle(run, "refused", reason)
    audit.record(actor=ACTOR, action="alert.remediate.refused", target=f"alert:{alert.id}", chat_id=alert.chat_id,
                 details={"alert_id": alert.id, "runbook": run.runbook, "host": host, "service": alert.service,
                          "rule": run.rule, "reason": "host not tied to service or rule"})
    logger.warning("remediation refused", extra={"alert_id": alert.id, "runbook": run.runbook, "host": host,
                                                  "reason": "host not tied to service or rule"})
    escalation.escalate_now(alert.id, utcnow(), "remediation refused")


def _request(run: RemediationRun, alert: Alert) -> None:
    from app.automation import service as automation

    permitted, host = _target_host(run, alert)
    if not permitted:
        _refuse_host(run, alert, host)
        return
    try:
        execution = automation.request_run(kind="run", args={"runbook": run.runbook, "args": {}, "host": host},
                                           actor=ACTOR, role=Role.ADMIN, chat_id=None)
    except BotError as exc:
        _settle(run, "refused", exc.user_message)
        logger.warning("remediation refused", extra={"alert_id": alert.id, "runbook": run.runbook,
                                                       "reason": exc.user_message})
        escalation.escalate_now(alert.id, utcnow(), "remediation refused")
        return
    db.session.execute(update(RemediationRun).where(RemediationRun.id == run.id)
                       .values(execution_id=execution.id, status=str(execution.status)))
    _mark_card(alert.id)
    audit.record(actor=ACTOR, action="alert.remediate", target=f"alert:{alert.id}", chat_id=alert.chat_id,
                 details={"alert_id": alert.id, "runbook": run.runbook, "execution_id": execution.id,
                          "slot": run.slot, "rule": run.rule})
    logger.info("remediation requested", extra={"alert_id": alert.id, "runbook": run.runbook,
                                                "execution_id": execution.id})


def _settle(run: RemediationRun, status: str, summary: str | None, check_at: datetime | None = None) -> None:
    db.session.execute(update(RemediationRun).where(RemediationRun.id == run.id)
                       .values(status=status, summary=(summary or "")[:1000] or None, check_at=check_at))
    _mark_card(run.alert_id)


def _mark_card(alert_id: int) -> None:
    db.session.execute(update(Alert).where(Alert.id == alert_id).values(card_stale=True))
    db.session.commit()


def _note(alert: Alert, text: str) -> None:
    db.session.execute(update(Alert).where(Alert.id == alert.id)
                       .values(escalation_log=[*(alert.escalation_log or []), text], card_stale=True))
    db.session.commit()


def check_runs(now: datetime | None = None) -> dict[str, int]:
    """Record finished executions (result on the card) and re-check alerts whose grace period is over."""
    from app.automation.models import Execution, ExecutionStatus

    now = now or utcnow()
    grace = timedelta(seconds=current_app.config["ALERT_REMEDIATION_GRACE"])
    counts = {"finished": 0, "escalated": 0}
    waiting = db.session.scalars(select(RemediationRun).where(RemediationRun.status.in_(_OPEN),
                                                               RemediationRun.execution_id.is_not(None))).all()
    for run in waiting:
        execution = db.session.get(Execution, run.execution_id, populate_existing=True)
        if execution is None or not ExecutionStatus(execution.status).finished:
            continue
        _settle(run, str(execution.status), execution.summary, check_at=now + grace)
        counts["finished"] += 1
    due = db.session.scalars(select(RemediationRun.id).where(RemediationRun.check_at <= now,
                                                              RemediationRun.checked.is_(False))).all()
    for run_id in due:
        claim = db.session.execute(update(RemediationRun).where(RemediationRun.id == run_id,
                                                                RemediationRun.checked.is_(False))
                                   .values(checked=True))
        db.session.commit()
        run = db.session.get(RemediationRun, run_id)
        if claim.rowcount and run is not None and escalation.escalate_now(run.alert_id, now, "still firing"):
            alert = service.get_alert(run.alert_id)
            if alert is not None:
                _note(alert, f"still firing after self-healing ({run.runbook}): escalating")
            counts["escalated"] += 1
    return counts
