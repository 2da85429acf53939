"""Send alerts to Feishu: route, silence, storm grouping, cards, buzzes, and card refreshes.

Every function here runs in a worker (or the escalation tick), never in the webhook.
Claims are conditional UPDATEs so two workers never notify the same alert twice.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from app.alerts import fallback, graph, metrics, service, storm
from app.alerts.cards import CardView, alert_card, summary_card
from app.feishu.markdown import escape
from app.alerts.enrich import enrich
from app.alerts.models import Alert, AlertBatch, NotifyState, RemediationRun
from app.alerts.routing import first_route
from app.alerts.types import AlertStatus
from app.infra import metrics as infra_metrics
from app.feishu.errors import FeishuError
from app.infra.db import db, utcnow
from app.inventory import get_inventory

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
_BUZZ = {"urgent_app": "app", "urgent_sms": "sms", "urgent_phone": "phone"}


def client() -> Any:
    from app.feishu.wiring import get_client

    return get_client()


def view_of(alert: Alert, now: datetime) -> CardView:
    """The card's context: inventory facts, remediation and escalation notes, occurrence number."""
    runs = db.session.scalars(select(RemediationRun).where(RemediationRun.alert_id == alert.id)
                              .order_by(RemediationRun.id)).all()
    # A run's summary can quote the alert (a refused host name) or command output: escaped. The
    # escalation log is the bot's own markdown (it mentions the people paged).
    notes = [f"🔧 **Remediation** runbook {escape(r.runbook)}: {r.status}"
             + (f" — {escape(r.summary)}" if r.summary else "") for r in runs]
    notes += [f"📣 {entry}" for entry in (alert.escalation_log or [])[-3:]]
    silence = service.silence_for(service.labels_of(alert), now) if alert.is_open else None
    if silence is not None:
        notes.append(f"🔕 **Silenced** until {silence.ends_at:%Y-%m-%d %H:%M} UTC by <at id={silence.created_by}></at>")
    occurrence = db.session.execute(
        select(func.count(Alert.id)).where(Alert.fingerprint == alert.fingerprint, Alert.id <= alert.id)
    ).scalar_one()
    return CardView(context=enrich(get_inventory(), alert, now), public_url=current_app.config["PUBLIC_URL"],
                    notes=tuple(notes), occurrence=int(occurrence))


def render(alert: Alert, now: datetime | None = None) -> dict[str, Any]:
    """The alert's card as it should look now (with its graph, redrawn when stale)."""
    return graph.attach(alert_card(alert, view_of(alert, now or utcnow())), graph.image_key(alert, refresh=True))


def _claim(alert_id: int) -> Alert | None:
    result = db.session.execute(
        update(Alert).where(Alert.id == alert_id, Alert.notify_state == NotifyState.PENDING)
        .values(notify_state=NotifyState.SENDING, notify_attempts=Alert.notify_attempts + 1)
    )
    db.session.commit()
    return service.get_alert(alert_id) if result.rowcount else None


def _settle(alert: Alert, state: str, **values: Any) -> None:
    if state != NotifyState.PENDING:
        metrics.NOTIFICATIONS.labels(kind="card" if state == NotifyState.SENT else state).inc()
        if state in (NotifyState.SENT, NotifyState.GROUPED):
            infra_metrics.ALERTS.labels(stage="notified").inc()
    db.session.execute(update(Alert).where(Alert.id == alert.id).values(notify_state=state, **values))
    db.session.commit()


def notify(alert_id: int, *, now: datetime | None = None) -> str | None:
    """Route a pending alert once: silenced, logged, its own card, or a place in a storm summary."""
    now = now or utcnow()
    alert = _claim(alert_id)
    if alert is None:
        return None
    log = {"alert_id": alert.id, "fingerprint": alert.fingerprint}
    try:
        state = _notify(alert, now, log)
    except Exception:
        state = NotifyState.FAILED if alert.notify_attempts >= MAX_ATTEMPTS else NotifyState.PENDING
        _settle(alert, state)
        logger.exception("alert notification failed", extra={**log, "attempt": alert.notify_attempts})
        raise
    from app.alerts import escalation, remediation

    escalation.schedule_first(alert, now)
    remediation.maybe_run(alert, now)
    return state


def _notify(alert: Alert, now: datetime, log: dict[str, Any]) -> str:
    if alert.status == AlertStatus.RESOLVED:
        _settle(alert, NotifyState.LOGGED)
        logger.info("alert resolved before it was routed", extra=log)
        return NotifyState.LOGGED
    labels = service.labels_of(alert)
    # The schedule is recorded whatever happens next: a critical alert escalates even when
    # silenced (held until the silence ends) or routed to the log only (sent to the person).
    context = enrich(get_inventory(), alert, now)
    silence = service.silence_for(labels, now)
    if silence is not None:
        _settle(alert, NotifyState.SILENCED, schedule=context.schedule)
        logger.info("alert silenced", extra={**log, "silence_id": silence.id})
        return NotifyState.SILENCED
    found = first_route(get_inventory().alerting.routes, labels)
    feishu = bool(current_app.config.get("FEISHU_APP_ID"))
    if found is not None and "card" in found[1].notify and fallback.direct(found[1], feishu):
        return _by_custom_bot(alert, found, now, context, log)
    if found is None or "card" not in found[1].notify or not found[1].chat or not feishu:
        _settle(alert, NotifyState.LOGGED, route_index=found[0] if found else None, schedule=context.schedule)
        logger.warning("alert", extra={**log, "title": alert.title, "severity": alert.severity,
                                       "summary": alert.summary, "route": found[0] if found else None})
        return NotifyState.LOGGED
    index, route = found
    chat_id: str = route.chat  # type: ignore[assignment]
    config = current_app.config
    place = storm.join(chat_id, now, config["ALERT_STORM_WINDOW"], config["ALERT_STORM_MAX"])
    threshold = config["ALERT_STORM_THRESHOLD"]
    if place.individual(threshold):
        card = graph.attach(alert_card(alert, view_of(alert, now)), graph.image_key(alert))
        # Same uuid on every attempt of one notification (Feishu delivers it once); a reminder gets a new one.
        occasion = int(alert.prev_seen.timestamp()) if alert.prev_seen else 0
        try:
            message_id = client().send_card(chat_id, card, uuid=f"alert-{alert.id}-{occasion}"[:50])
        except FeishuError as exc:
            if route.custom_bot is None:
                raise
            logger.warning("the app could not post the alert; using the route's custom bot",
                           extra={**log, "error": type(exc).__name__})
            return _by_custom_bot(alert, found, now, context, log)
        _settle(alert, NotifyState.SENT, route_index=index, chat_id=chat_id, card_message_id=message_id,
                card_count=alert.count, card_updated_at=now, card_stale=False, schedule=context.schedule)
        state = NotifyState.SENT
    else:
        message_id = _summary(place, alert, chat_id, now) if place.opens_summary(threshold) else None
        _settle(alert, NotifyState.GROUPED, route_index=index, chat_id=chat_id, batch_id=place.batch_id,
                card_message_id=message_id, schedule=context.schedule)
        state = NotifyState.GROUPED
    logger.info("alert notified", extra={**log, "state": state, "chat_id": chat_id, "message_id": message_id})
    if message_id and context.oncall:
        for kind in (k for k in route.notify if k in _BUZZ):
            buzz(message_id, context.oncall.now, _BUZZ[kind], log)
    return state


def _by_custom_bot(alert: Alert, found: tuple[int, Any], now: datetime, context: Any, log: dict[str, Any]) -> str:
    """Post through the route's custom bot; the card cannot be updated or buzzed later (no message id)."""
    index, route = found
    fallback.send(alert, view_of(alert, now), route)
    _settle(alert, NotifyState.SENT, route_index=index, chat_id=route.chat, card_count=alert.count,
            card_updated_at=now, card_stale=False, schedule=context.schedule)
    metrics.NOTIFICATIONS.labels(kind="custom_bot").inc()
    logger.info("alert notified through a custom bot", extra={**log, "route": index})
    return NotifyState.SENT


def _summary(place: storm.Place, alert: Alert, chat_id: str, now: datetime) -> str:
    """Post the storm's summary card (this alert opened it) and remember its message id."""
    batch = db.session.get(AlertBatch, place.batch_id)
    card = summary_card([alert], public_url=current_app.config["PUBLIC_URL"], storm_size=place.position,
                        since=batch.created_at if batch else now, individual=place.position - 1)
    message_id: str = client().send_card(chat_id, card, uuid=f"alert-batch-{place.batch_id}")
    metrics.NOTIFICATIONS.labels(kind="summary").inc()
    db.session.execute(update(AlertBatch).where(AlertBatch.id == place.batch_id)
                       .values(message_id=message_id, card_size=place.position, updated_at=now))
    db.session.commit()
    return message_id


def buzz(message_id: str, open_id: str, kind: str, log: dict[str, Any]) -> bool:
    """Buzz open_id about message_id (app, sms or phone); False when Feishu refused."""
    try:
        invalid = client().urgent(message_id, [open_id], kind)  # type: ignore[arg-type]
    except Exception:
        logger.warning("buzz failed", exc_info=True, extra={**log, "kind": kind, "open_id": open_id})
        return False
    logger.info("buzzed", extra={**log, "kind": kind, "open_id": open_id, "invalid": invalid})
    metrics.NOTIFICATIONS.labels(kind=f"buzz_{kind}").inc()
    return not invalid


def refresh(alert_id: int, *, now: datetime | None = None) -> bool:
    """PATCH the alert's card (or its storm summary) to its current state; False when there is none."""
    now = now or utcnow()
    alert = service.get_alert(alert_id)
    if alert is not None and alert.batch_id is not None:  # listed on its storm's summary card
        mark_fresh(alert, now)
        return refresh_batch(alert.batch_id, now=now)
    if alert is None or not alert.card_message_id:
        if alert is not None and alert.card_stale:
            mark_fresh(alert, now)
        return False
    client().update_card(alert.card_message_id, render(alert, now))
    mark_fresh(alert, now)
    return True


def mark_fresh(alert: Alert, now: datetime | None = None) -> None:
    """Record that the card shows the alert as it is now."""
    now = now or utcnow()
    db.session.execute(update(Alert).where(Alert.id == alert.id)
                       .values(card_count=alert.count, card_stale=False, card_updated_at=now))
    db.session.commit()


def refresh_batch(batch_id: int, *, now: datetime | None = None) -> bool:
    """PATCH a storm summary card to list every alert of its window; False when it has no card yet."""
    now = now or utcnow()
    batch = db.session.get(AlertBatch, batch_id, populate_existing=True)
    if batch is None or not batch.message_id:
        return False
    alerts = db.session.scalars(select(Alert).where(Alert.batch_id == batch_id).order_by(Alert.id)).all()
    db.session.execute(update(Alert).where(Alert.batch_id == batch_id, Alert.card_message_id.is_(None))
                       .values(card_message_id=batch.message_id))
    individual = storm.individual_cards(batch.size, current_app.config["ALERT_STORM_THRESHOLD"])
    card = summary_card(alerts, public_url=current_app.config["PUBLIC_URL"], storm_size=len(alerts) + individual,
                        since=batch.created_at, individual=individual)
    client().update_card(batch.message_id, card)
    # Alerts that joined the storm but are not settled yet keep card_size below size: listed next tick.
    listed = len(alerts) + individual
    db.session.execute(update(AlertBatch).where(AlertBatch.id == batch_id).values(card_size=listed, updated_at=now))
    db.session.commit()
    return True


def due_refreshes(now: datetime, min_age: int) -> tuple[list[int], list[int]]:
    """Alerts whose card is stale or shows an old count, and batches with unlisted alerts."""
    old = now - timedelta(seconds=min_age)
    alerts = db.session.scalars(
        select(Alert.id).where(Alert.card_message_id.is_not(None), Alert.batch_id.is_(None),
                               (Alert.card_stale.is_(True)) | ((Alert.count != Alert.card_count)
                                                               & (Alert.card_updated_at < old)))
        .limit(200)
    ).all()
    batches = db.session.scalars(
        select(AlertBatch.id).where(AlertBatch.message_id.is_not(None), AlertBatch.card_size != AlertBatch.size)
        .limit(50)
    ).all()
    return list(alerts), list(batches)


def due_notifications(now: datetime, min_age: int = 15) -> list[int]:
    """Pending alerts nobody picked up (queue unreachable, worker died mid-send)."""
    old = now - timedelta(seconds=min_age)
    stuck = db.session.execute(
        update(Alert).where(Alert.notify_state == NotifyState.SENDING, Alert.last_seen < old - timedelta(minutes=5))
        .values(notify_state=NotifyState.PENDING)
    )
    db.session.commit()
    if stuck.rowcount:
        logger.warning("alerts stuck in sending put back", extra={"count": stuck.rowcount})
    return list(db.session.scalars(
        select(Alert.id).where(Alert.notify_state == NotifyState.PENDING, Alert.created_at < old,
                               Alert.notify_attempts < MAX_ATTEMPTS).limit(500)
    ).all())

