"""Jobs: process one inbound event; sweep for events that were never processed."""
from __future__ import annotations

import logging

from flask import current_app

from app.chat import delivery, router
from app.chat.types import IncomingMessage
from app.feishu import events as feishu_events
from app.feishu import menu
from app.feishu.wiring import bot_open_id
from app.inbox import service
from app.inbox.models import EventStatus
from app.inbox.service import ClaimedEvent
from app.infra import metrics
from app.infra.queue import enqueue, job

logger = logging.getLogger(__name__)


@job("default", timeout=600)
def process_event(event_pk: int) -> None:
    """Claim the event, route it, deliver the replies; safe to run twice."""
    event = service.claim(event_pk, max_attempts=current_app.config["EVENT_MAX_ATTEMPTS"])
    if event is None:
        return
    log = {"event_id": event.event_id, "event_type": event.event_type, "attempt": event.attempts}
    try:
        message = _message_of(event)
        if message is None:
            service.settle(event.id, EventStatus.IGNORED)
            metrics.EVENTS_PROCESSED.labels(outcome="ignored").inc()
            return
        replies = router.route(message)
        delivery.deliver(message, replies)
        service.settle(event.id, EventStatus.DONE if replies else EventStatus.IGNORED)
        metrics.EVENTS_PROCESSED.labels(outcome="done").inc()
        logger.info("event processed", extra={**log, "replies": len(replies)})
    except Exception as exc:
        logger.exception("event processing failed", extra=log)
        service.settle(event.id, EventStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        metrics.EVENTS_PROCESSED.labels(outcome="failed").inc()


def _message_of(event: ClaimedEvent) -> IncomingMessage | None:
    if event.source == "console":
        payload = event.payload
        return IncomingMessage(
            event_id=event.event_id, message_id=event.event_id, chat_id=payload.get("chat_id", "console"),
            chat_type=payload.get("chat_type", "p2p"), open_id=payload["open_id"], text=payload["text"],
            mentioned_bot=True, source="console",
        )
    if event.event_type == menu.EVENT_TYPE:
        return menu.to_incoming_message(event.payload, event_id=event.event_id)
    if event.event_type != "im.message.receive_v1":
        return None
    return feishu_events.to_incoming_message(event.payload, event_id=event.event_id, bot_open_id=bot_open_id())


@job("default", timeout=120)
def sweep_events() -> int:
    """Queue events that were recorded but not processed (no worker, Redis down, worker died)."""
    config = current_app.config
    ids = service.due_for_retry(
        pending_after=config["EVENT_SWEEP_INTERVAL"], stale_after=config["EVENT_STALE_AFTER"],
        max_attempts=config["EVENT_MAX_ATTEMPTS"],
    )
    for event_pk in ids:
        enqueue(process_event, event_pk)
    if ids:
        logger.info("sweep queued events", extra={"count": len(ids)})
    return len(ids)
