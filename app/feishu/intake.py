"""What both transports (webhook and long connection) do with a verified push.

Events are recorded in the inbox (deduplicated) and handed to the workers; card
clicks are answered inline because the platform waits at most 3 s and never
retries them. Nothing downstream learns which transport brought the push.
"""
from __future__ import annotations

import logging
from typing import Any

from app.chat.registry import dispatch_card
from app.chat.types import CommandContext
from app.feishu import events as feishu_events
from app.feishu.events import Push
from app.inbox import service as inbox
from app.inbox.tasks import hand_off
from app.inbox.models import EventStatus
from app.infra import metrics
from app.infra.db import db
from app.infra.faults import fault_point
from app.users.service import role_of

logger = logging.getLogger(__name__)

# The handler may have committed part of its work before failing: never claim nothing changed.
UNKNOWN_OUTCOME = ("Something went wrong while handling this click; it may be partly done."
                   " Check the card or /status before trying again.")


def accept_event(push: Push) -> str:
    """Record and queue an event; "accepted" or "duplicate" (already recorded by either transport)."""
    assert push.event_id and push.event_type
    event_pk = inbox.record(
        event_id=push.event_id, event_type=push.event_type, payload=push.payload,
        message_id=feishu_events.message_id_of(push.payload),
    )
    if event_pk is None:
        logger.info("duplicate event ignored", extra={"event_id": push.event_id})
        return "duplicate"
    metrics.EVENTS_RECEIVED.labels(source="feishu").inc()
    fault_point("webhook_after_record")
    try:
        hand_off(event_pk)
    except Exception as exc:  # recorded; the sweep will queue it once the queue is back
        logger.warning("could not queue event; the sweep will retry",
                       extra={"event_id": push.event_id, "error": type(exc).__name__})
    return "accepted"


def answer_card(push: Push) -> tuple[str, dict[str, Any]]:
    """Run the clicked button's handler now; (outcome, answer body with toast and/or card)."""
    action = feishu_events.to_card_action(push)
    event_pk = inbox.record(
        event_id=action.event_id, event_type=push.event_type or "card.action.trigger", payload=push.payload,
        status=EventStatus.PROCESSING,
    )
    if event_pk is None:
        logger.info("repeated card click ignored", extra={"event_id": action.event_id})
        return "duplicate", {}
    ctx = CommandContext(
        open_id=action.open_id, role=role_of(action.open_id), chat_id=action.chat_id or "",
        message_id=action.message_id, event_id=action.event_id,
    )
    try:
        response = dispatch_card(ctx, action)
    except Exception as exc:
        db.session.rollback()  # the handler's open transaction would hold SQLite's write lock
        inbox.settle(event_pk, EventStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        logger.exception("card action failed", extra={"event_id": action.event_id})
        return "error", {"toast": {"type": "error", "content": UNKNOWN_OUTCOME}}
    inbox.settle(event_pk, EventStatus.DONE)
    body = response.to_legacy_body() if push.kind == "legacy_card" else response.to_callback_body()
    return "card", body
