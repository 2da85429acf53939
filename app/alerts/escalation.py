"""Escalation of unacknowledged alerts: app, SMS, phone to the on-call person, then the next in rotation.

State lives in the alert row (escalation_step, next_escalation_at), so it survives
restarts. Each step is claimed with UPDATE ... WHERE escalation_step = n: with
several workers ticking at once, exactly one of them buzzes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.alerts import notify, service
from app.alerts.models import Alert
from app.alerts.oncall import person_at
from app.alerts.types import AlertStatus, Severity
from app.audit import service as audit
from app.infra import metrics as infra_metrics
from app.infra.db import db, utcnow
from app.inventory import get_inventory
from app.inventory.schema import Schedule

logger = logging.getLogger(__name__)

KINDS = ("app", "sms", "phone")
SYSTEM = "openclaw"


@dataclass(frozen=True)
class Step:
    """Step number (1-based), the buzz kind and who gets it."""

    number: int
    kind: str
    open_id: str


def step_for(schedule: Schedule, number: int, now: datetime) -> Step | None:
    """Step `number` of the ladder at now; None past the end (every member had app, SMS and phone)."""
    offset, kind_index = divmod(number - 1, len(KINDS))
    if number < 1 or offset >= len(schedule.members):
        return None
    return Step(number, KINDS[kind_index], person_at(schedule, now, offset))


def _schedule(alert: Alert) -> Schedule | None:
    return get_inventory().oncall.get(alert.schedule or "")


def schedule_first(alert: Alert, now: datetime) -> bool:
    """Start the clock for a new critical alert: step 1 falls due escalate_after after it began."""
    if str(alert.severity) != Severity.CRITICAL.value or alert.escalation_step:
        return False
    fresh = service.get_alert(alert.id)
    schedule = _schedule(fresh) if fresh else None
    if fresh is None or schedule is None:
        return False
    result = db.session.execute(
        update(Alert).where(Alert.id == alert.id, Alert.status == AlertStatus.FIRING.value,
                            Alert.escalation_step == 0, Alert.next_escalation_at.is_(None))
        .values(next_escalation_at=fresh.created_at + timedelta(seconds=schedule.escalate_after))
    )
    db.session.commit()
    return bool(result.rowcount)


def escalate_now(alert_id: int, now: datetime, reason: str) -> bool:
    """Make the next step due at once (self-healing did not help); any severity."""
    alert = service.get_alert(alert_id)
    if alert is None or alert.status != AlertStatus.FIRING:
        return False
    values: dict[str, object] = {"next_escalation_at": now}
    if not alert.schedule:
        from app.alerts.enrich import enrich

        values["schedule"] = enrich(get_inventory(), alert, now).schedule
    result = db.session.execute(update(Alert).where(Alert.id == alert_id, Alert.status == AlertStatus.FIRING.value)
                                .values(**values))
    db.session.commit()
    logger.info("escalating now", extra={"alert_id": alert_id, "reason": reason})
    return bool(result.rowcount)


def run_due(now: datetime | None = None) -> list[tuple[int, int]]:
    """Take every due step this worker can claim; (alert_id, step) for each buzz sent."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Alert.id).where(Alert.next_escalation_at <= now, Alert.status == AlertStatus.FIRING.value)
        .order_by(Alert.next_escalation_at).limit(200)
    ).all()
    done = []
    for alert_id in due:
        step = _advance(alert_id, now)
        if step is not None:
            done.append((alert_id, step))
    return done


def _advance(alert_id: int, now: datetime) -> int | None:
    alert = service.get_alert(alert_id)
    schedule = _schedule(alert) if alert else None
    if alert is None or alert.next_escalation_at is None:
        return None
    if schedule is None:
        _stop(alert, "no on-call schedule")
        return None
    silence = service.silence_for(service.labels_of(alert), now)
    if silence is not None:  # a silence holds the ladder until it ends
        db.session.execute(update(Alert).where(Alert.id == alert_id, Alert.escalation_step == alert.escalation_step)
                           .values(next_escalation_at=silence.ends_at))
        db.session.commit()
        return None
    step = step_for(schedule, alert.escalation_step + 1, now)
    if step is None:
        _stop(alert, "ladder finished")
        return None
    more = step_for(schedule, step.number + 1, now) is not None
    claim = db.session.execute(
        update(Alert).where(Alert.id == alert_id, Alert.escalation_step == alert.escalation_step,
                            Alert.status == AlertStatus.FIRING.value, Alert.next_escalation_at <= now)
        .values(escalation_step=step.number,
                next_escalation_at=now + timedelta(seconds=schedule.escalate_after) if more else None)
    )
    db.session.commit()
    if not claim.rowcount:
        return None  # another worker took this step, or someone acknowledged just now
    _buzz(alert, step, now)
    return step.number


def _stop(alert: Alert, why: str) -> None:
    db.session.execute(update(Alert).where(Alert.id == alert.id).values(next_escalation_at=None))
    db.session.commit()
    logger.info("escalation stopped", extra={"alert_id": alert.id, "reason": why})


def _buzz(alert: Alert, step: Step, now: datetime) -> None:
    log = {"alert_id": alert.id, "step": step.number}
    message_id = alert.card_message_id or _direct_card(alert, step.open_id, now)
    ok = bool(message_id) and notify.buzz(message_id, step.open_id, step.kind, log)
    infra_metrics.ALERTS.labels(stage="escalated" if ok else "escalation_failed").inc()
    entry = (f"{now:%H:%M} escalation step {step.number}: urgent_{step.kind} to <at id={step.open_id}></at>"
             + ("" if ok else " (failed)"))
    db.session.execute(update(Alert).where(Alert.id == alert.id)
                       .values(escalation_log=[*(alert.escalation_log or []), entry], card_stale=True))
    db.session.commit()
    audit.record(actor=SYSTEM, action="alert.escalate", target=f"alert:{alert.id}", chat_id=alert.chat_id,
                 details={"alert_id": alert.id, "step": step.number, "kind": step.kind, "open_id": step.open_id,
                          "message_id": message_id, "ok": ok})


def _direct_card(alert: Alert, open_id: str, now: datetime) -> str | None:
    """An alert that has no card (log-only route) is sent to the person first, so there is a message to buzz."""
    try:
        message_id: str = notify.client().send_card(open_id, notify.render(alert, now), receive_id_type="open_id",
                                                    uuid=f"alert-{alert.id}-dm-{open_id}"[:50])
    except Exception:
        logger.warning("could not send the alert to the on-call person", exc_info=True,
                       extra={"alert_id": alert.id, "open_id": open_id})
        return None
    db.session.execute(update(Alert).where(Alert.id == alert.id, Alert.card_message_id.is_(None))
                       .values(card_message_id=message_id, card_count=alert.count, card_updated_at=now))
    db.session.commit()
    return message_id
