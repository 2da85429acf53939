"""Jobs: process one inbound event (route once, then deliver); sweep for events and replies still owed.

Routing and delivery are separate steps. Routing runs at most once per message:
its replies are staged in the outbox in the same transaction that marks the
event handled, and only their delivery is retried. An event whose routing began
but did not finish (the worker died, the job timed out, the router raised) is
marked interrupted and its chat is told what is known; it is never routed again.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from app.chat import router
from app.chat.types import IncomingMessage, Reply
from app.feishu import events as feishu_events
from app.feishu import menu
from app.feishu.wiring import bot_open_id
from app.inbox import replies as inbox_replies
from app.inbox import service
from app.inbox.models import EventStatus, InboundEvent
from app.inbox.service import ClaimedEvent
from app.infra import metrics
from app.infra.db import db, utcnow
from app.infra.faults import fault_point
from app.infra.handoff import handoff
from app.infra.queue import enqueue, job
from app.infra.scheduler import Periodic
from app.outbox import service as outbox

logger = logging.getLogger(__name__)


@job("default", timeout=600)
def process_event(event_pk: int) -> None:
    """Claim the event, route it once, stage its replies with the outcome, deliver them; safe to run twice."""
    fault_point("event_before_claim")
    event = service.claim(event_pk, max_attempts=current_app.config["EVENT_MAX_ATTEMPTS"])
    if event is None:
        return
    log = {"event_id": event.event_id, "event_type": event.event_type, "attempt": event.attempts}
    try:
        message = _message_of(event)
    except Exception as exc:  # nothing was routed: safe to try again later
        logger.exception("event could not be read", extra=log)
        service.settle(event.id, EventStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        metrics.EVENTS_PROCESSED.labels(outcome="failed").inc()
        metrics.count_error("event", type(exc).__name__)
        return
    if message is None:
        service.settle(event.id, EventStatus.IGNORED)
        metrics.EVENTS_PROCESSED.labels(outcome="ignored").inc()
        return
    try:
        replies = router.route(message)
    except Exception as exc:
        logger.exception("routing failed; the event is interrupted, never routed again", extra=log)
        db.session.rollback()
        _deliver(_interrupt(event.id, message, f"{type(exc).__name__}: {exc}") or [])
        metrics.EVENTS_PROCESSED.labels(outcome="failed").inc()
        metrics.count_error("event", type(exc).__name__)
        return
    fault_point("event_after_route")
    outbox_ids = inbox_replies.stage(message, replies, event_pk=event.id)
    if not service.mark_handled(event.id, EventStatus.DONE if replies else EventStatus.IGNORED):
        db.session.rollback()  # the sweep declared it interrupted meanwhile and told the chat
        logger.warning("event was interrupted before its replies were stored", extra=log)
        return
    db.session.commit()
    metrics.EVENTS_PROCESSED.labels(outcome="done").inc()
    logger.info("event processed", extra={**log, "replies": len(replies)})
    _deliver(outbox_ids)
    metrics.EVENT_LAG.observe((utcnow() - event.received_at).total_seconds())


def _deliver(outbox_ids: list[int]) -> None:
    """First delivery attempt right here; what fails stays pending for the outbox sweep."""
    for outbox_id in outbox_ids:
        outbox.deliver(outbox_id)


def _interrupt(event_pk: int, message: IncomingMessage, error: str, *,
               only_before: object = None) -> list[int] | None:
    """Mark the event interrupted and stage the notice in one transaction; the outbox ids to deliver.

    None when the event was no longer processing (its worker settled it, or another sweep did).
    """
    if not service.mark_interrupted(event_pk, error, only_before=only_before):
        db.session.rollback()
        return None
    notice = inbox_replies.interruption_notice(message)
    outbox_ids = inbox_replies.stage(message, [Reply.of_text(notice)], event_pk=event_pk)
    db.session.commit()
    logger.warning("event interrupted", extra={"event_id": message.event_id, "error": error})
    return outbox_ids


def _message_of(event: ClaimedEvent) -> IncomingMessage | None:
    if event.source == "console":
        payload = event.payload
        return IncomingMessage(
            event_id=event.event_id, message_id=event.event_id, chat_id=payload.get("chat_id", "console"),
            chat_type=payload.get("chat_type", "p2p"), open_id=payload["open_id"], text=payload["text"],
            mentioned_bot=True, source="console",
            sent_by_user=payload["sent_by_user"] if isinstance(payload.get("sent_by_user"), int) else None,
        )
    if event.event_type == menu.EVENT_TYPE:
        return menu.to_incoming_message(event.payload, event_id=event.event_id)
    if event.event_type != "im.message.receive_v1":
        return None
    return feishu_events.to_incoming_message(event.payload, event_id=event.event_id, bot_open_id=bot_open_id())


def _claimed(row: InboundEvent) -> ClaimedEvent:
    return ClaimedEvent(id=row.id, event_id=row.event_id, event_type=row.event_type, source=row.source,
                        payload=row.payload, attempts=row.attempts, received_at=row.received_at)


def interrupt_stale(stale_after: int) -> int:
    """Events stuck mid-routing longer than stale_after: interrupted, chat told; returns how many."""
    cutoff = utcnow() - timedelta(seconds=stale_after)
    count = 0
    for event_pk in service.stale_processing(stale_after=stale_after):
        row = db.session.get(InboundEvent, event_pk, populate_existing=True)
        if row is None:
            continue
        try:
            message = _message_of(_claimed(row))
        except Exception:  # noqa: BLE001 - unreadable: settle it without a notice
            logger.exception("stale event could not be read", extra={"event_id": row.event_id})
            message = None
        error = "worker stopped while handling it; not routed again"
        if message is None:
            if service.mark_interrupted(event_pk, error, only_before=cutoff):
                count += 1
            db.session.commit()
            continue
        outbox_ids = _interrupt(event_pk, message, error, only_before=cutoff)
        if outbox_ids is not None:
            count += 1
            _deliver(outbox_ids)
    return count


@job("default", timeout=120)
def sweep_events() -> int:
    """Interrupt events whose worker died mid-way; queue events recorded but never processed."""
    config = current_app.config
    interrupted = interrupt_stale(int(config["EVENT_STALE_AFTER"]))
    ids = service.due_for_retry(pending_after=config["EVENT_SWEEP_INTERVAL"],
                                max_attempts=config["EVENT_MAX_ATTEMPTS"])
    for event_pk in ids:
        enqueue(process_event, event_pk)
    if ids or interrupted:
        logger.info("sweep queued events", extra={"count": len(ids), "interrupted": interrupted})
    return len(ids)


EVENTS = handoff("openclaw:inbox", process_event)


def hand_off(event_pk: int) -> None:
    """Make a recorded event reach a worker (see app/infra/handoff.py); raises when the queue is unreachable."""
    EVENTS.push(event_pk)


PERIODIC = (
    Periodic("sweep_events", lambda app: int(app.config["EVENT_SWEEP_INTERVAL"]), sweep_events),
)
