"""POST /webhook/feishu: verify, record, queue, answer. Card clicks are answered inline."""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from app.chat.registry import dispatch_card
from app.chat.types import CommandContext
from app.feishu import events as feishu_events
from app.feishu.events import Push, PushRejected, SecurityConfig
from app.inbox import service as inbox
from app.inbox.handoff import hand_off
from app.inbox.models import EventStatus
from app.infra import metrics
from app.infra.faults import fault_point
from app.users.service import role_of
from app.web.errors import json_error

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhook")

UNKNOWN_OUTCOME = ("Something went wrong while handling this click; it may be partly done."
                   " Check the card or /status before trying again.")


def _security() -> SecurityConfig:
    config = current_app.config
    return SecurityConfig(
        verification_token=config.get("FEISHU_VERIFICATION_TOKEN"),
        encrypt_key=config.get("FEISHU_ENCRYPT_KEY"),
        max_age=config.get("FEISHU_MAX_EVENT_AGE", 0),
        legacy_cards=bool(config.get("FEISHU_LEGACY_CARD_CALLBACKS", False)),
    )


@bp.post("/feishu")
def feishu():  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    outcome = "error"
    try:
        if request.mimetype != "application/json":
            outcome = "bad_request"
            return json_error(400, "Content-Type must be application/json")
        try:
            push = feishu_events.verify_push(request.get_data(cache=False), request.headers, _security())
        except PushRejected as exc:
            outcome = "unauthorized" if exc.status == 401 else "bad_request"
            logger.warning("feishu push rejected", extra={"status": exc.status, "reason": exc.detail,
                                                           "remote_addr": request.remote_addr})
            return json_error(exc.status, exc.reason)
        if push.kind == "challenge":
            outcome = "challenge"
            return jsonify(challenge=push.challenge)
        if push.kind in ("card_action", "legacy_card"):
            outcome, body = _card(push)
            return jsonify(body)
        outcome = _event(push)
        return jsonify(msg="success")
    finally:
        metrics.WEBHOOK_REQUESTS.labels(endpoint="feishu", outcome=outcome).inc()
        if outcome in ("unauthorized", "bad_request", "error"):
            metrics.count_error("webhook", f"feishu_{outcome}")
        metrics.WEBHOOK_LATENCY.labels(endpoint="feishu").observe(time.perf_counter() - started)


def _event(push: Push) -> str:
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


def _card(push: Push) -> tuple[str, dict[str, Any]]:
    """Card callbacks have no retries and a 3 s deadline: handle inline, answer with toast/card."""
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
        inbox.settle(event_pk, EventStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        logger.exception("card action failed", extra={"event_id": action.event_id})
        # The handler may have committed part of its work before failing: do not claim nothing changed.
        return "error", {"toast": {"type": "error", "content": UNKNOWN_OUTCOME}}
    inbox.settle(event_pk, EventStatus.DONE)
    body = response.to_legacy_body() if push.kind == "legacy_card" else response.to_callback_body()
    return "card", body
