"""Alert state changes people make (ack, resolve) and silences; each commits and is audited.

Transitions are conditional UPDATEs, so a repeated click or a redelivered callback
finds nothing to change and reports changed=False instead of acting twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from app import localtime
from app.alerts import window
from app.alerts.errors import AlertNotFound, SilenceNotFound
from app.alerts.models import Alert, Silence
from app.alerts.routing import format_matchers, matches
from app.alerts.types import AlertStatus, Severity, match_labels
from app.audit import service as audit
from app.durations import format_duration
from app.infra.db import db, utcnow
from app.infra.redis import get_redis
from app.inventory import get_inventory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transition:
    """The alert after a state change, and whether this call made the change."""

    alert: Alert
    changed: bool


def get_alert(alert_id: int) -> Alert | None:
    """The alert read fresh, or None."""
    return db.session.get(Alert, alert_id, populate_existing=True)


def get_alert_or_raise(alert_id: int) -> Alert:
    """The alert read fresh; AlertNotFound otherwise."""
    alert = get_alert(alert_id)
    if alert is None:
        raise AlertNotFound(f"alert {alert_id} not found", user_message=f"No alert #{alert_id}.")
    return alert


def list_alerts(*, severity: Severity | None = None, open_only: bool = True, limit: int = 20) -> list[Alert]:
    """Open alerts (newest first), optionally of one severity."""
    query = select(Alert).order_by(Alert.created_at.desc()).limit(limit)
    if open_only:
        query = query.where(Alert.status != AlertStatus.RESOLVED.value)
    if severity is not None:
        query = query.where(Alert.severity == severity.value)
    return list(db.session.scalars(query))


def labels_of(alert: Alert) -> dict[str, str]:
    """The alert's labels as route and silence matchers see them."""
    return match_labels(alert.labels or {}, alertname=alert.alertname, severity=alert.severity,
                        host=alert.host, service=alert.service, source=alert.source)


def acknowledge(*, alert_id: int, actor: str, chat_id: str | None = None, now: datetime | None = None) -> Transition:
    """Claim a firing alert: escalation stops at once; an acknowledged or resolved one is left as is."""
    now = now or utcnow()
    result = db.session.execute(
        update(Alert).where(Alert.id == alert_id, Alert.status == AlertStatus.FIRING.value)
        .values(status=AlertStatus.ACKNOWLEDGED.value, acked_by=actor, acked_at=now, next_escalation_at=None,
                card_stale=True)
    )
    db.session.commit()
    alert = get_alert_or_raise(alert_id)
    if result.rowcount:
        _audit(actor, "alert.ack", alert, chat_id)
    return Transition(alert, bool(result.rowcount))


def resolve(*, alert_id: int, actor: str, chat_id: str | None = None, now: datetime | None = None) -> Transition:
    """Close an open alert by hand; the next firing of its fingerprint is a new occurrence."""
    now = now or utcnow()
    result = db.session.execute(
        update(Alert).where(Alert.id == alert_id, Alert.status != AlertStatus.RESOLVED.value)
        .values(status=AlertStatus.RESOLVED.value, open_key=None, resolved_by=actor, resolved_at=now, ends_at=now,
                next_escalation_at=None, card_stale=True)
    )
    db.session.commit()
    alert = get_alert_or_raise(alert_id)
    if result.rowcount:
        redis = get_redis()
        if redis is not None:  # the next report of this fingerprint opens a new occurrence
            window.forget(redis, [(alert.fingerprint, alert.id)], get_inventory().alerting.dedup_window)
        _audit(actor, "alert.resolve", alert, chat_id)
    return Transition(alert, bool(result.rowcount))


def _audit(actor: str, action: str, alert: Alert, chat_id: str | None, **details: object) -> None:
    audit.record(actor=actor, action=action, target=f"alert:{alert.id}", chat_id=chat_id,
                 details={"alert_id": alert.id, "title": alert.title, "fingerprint": alert.fingerprint, **details})


# -- silences --------------------------------------------------------------------------------


def create_silence(
    *, matchers: dict[str, str], seconds: int, actor: str, chat_id: str | None = None, comment: str | None = None,
    now: datetime | None = None,
) -> Silence:
    """Suppress notifications for alerts matching every matcher, for seconds from now."""
    now = now or utcnow()
    silence = Silence(matchers=dict(matchers), created_by=actor, created_at=now,
                      ends_at=now + timedelta(seconds=seconds), comment=comment)
    db.session.add(silence)
    db.session.commit()
    audit.record(actor=actor, action="alert.silence", target=f"silence:{silence.id}", chat_id=chat_id,
                 details={"matchers": matchers, "duration": format_duration(seconds), "comment": comment})
    return silence


def remove_silence(*, silence_id: int, actor: str, chat_id: str | None = None, now: datetime | None = None) -> Silence:
    """End an active silence now; SilenceNotFound when it is unknown, expired or already removed."""
    now = now or utcnow()
    result = db.session.execute(
        update(Silence).where(Silence.id == silence_id, Silence.removed_at.is_(None), Silence.ends_at > now)
        .values(removed_by=actor, removed_at=now)
    )
    db.session.commit()
    if not result.rowcount:
        raise SilenceNotFound(f"silence {silence_id} not active", user_message=f"No active silence #{silence_id}.")
    silence = db.session.get(Silence, silence_id, populate_existing=True)
    audit.record(actor=actor, action="alert.unsilence", target=f"silence:{silence_id}", chat_id=chat_id,
                 details={"matchers": silence.matchers})
    return silence


def active_silences(now: datetime | None = None) -> list[Silence]:
    """Silences in force now, ending soonest first."""
    now = now or utcnow()
    query = (select(Silence).where(Silence.removed_at.is_(None), Silence.ends_at > now)
             .order_by(Silence.ends_at))
    return list(db.session.scalars(query))


def silence_for(labels: dict[str, str], now: datetime | None = None) -> Silence | None:
    """The first active silence whose matchers all fit labels, or None."""
    for silence in active_silences(now):
        if matches(silence.matchers, labels):
            return silence
    return None


def describe_silence(silence: Silence) -> str:
    """One line: id, matchers, until when, by whom."""
    until = localtime.fmt(silence.ends_at)
    return f"#{silence.id} {format_matchers(silence.matchers)} until {until} (by {silence.created_by})"


def open_alert_count(host: str) -> int:
    """How many alerts are open on host."""
    query = select(Alert.id).where(Alert.host == host, or_(Alert.status == AlertStatus.FIRING.value,
                                                            Alert.status == AlertStatus.ACKNOWLEDGED.value))
    return len(db.session.execute(query).all())
