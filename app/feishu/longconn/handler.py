"""A data frame's payload through the same intake as the webhook; the result is the frame's answer.

The connection was authenticated when it was opened, so payloads carry no
signature and are not encrypted (feishu-protocol.md 6.1).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app

from app.feishu import intake
from app.feishu.events import Push

logger = logging.getLogger(__name__)

CARD_EVENT = "card.action.trigger"


@dataclass(frozen=True)
class Outcome:
    """code 200 (taken, or not worth a retry) or 500 (retry later); body is the callback answer."""

    code: int
    outcome: str
    body: dict[str, Any] | None = None


def push_of(payload: dict[str, Any]) -> Push | None:
    """The payload as a Push, or None when it is neither a schema 2.0 event nor a legacy card callback."""
    header = payload.get("header")
    if payload.get("schema") == "2.0" and isinstance(header, dict):
        event_id, event_type = header.get("event_id"), header.get("event_type")
        if not (isinstance(event_id, str) and 0 < len(event_id) <= 128 and isinstance(event_type, str) and event_type):
            return None
        kind = "card_action" if event_type == CARD_EVENT else "event"
        return Push(kind, payload, event_id=event_id, event_type=event_type)
    if "action" in payload and "open_message_id" in payload:
        token = str(payload.get("token") or "")
        if not token:
            return None
        return Push("legacy_card", payload, event_id=f"legacy-card:{token}", event_type="card.action.trigger_v1")
    return None


def _age_beyond_limit(push: Push) -> float | None:
    """Seconds since the event was created, when FEISHU_MAX_EVENT_AGE is set and it is older.

    A queue of old messages is reported to arrive in a burst after a reconnect; with the
    limit set, a command typed hours ago does not run now. Events only: clicks are live.
    """
    limit = current_app.config.get("FEISHU_MAX_EVENT_AGE") or 0
    header = push.payload.get("header")
    if not limit or push.kind != "event" or not isinstance(header, dict):
        return None
    try:
        created = float(header.get("create_time"))
    except (TypeError, ValueError):
        return None
    created /= 1e6 if created > 1e14 else 1e3  # microseconds or milliseconds
    age = time.time() - created
    return age if age > limit else None


def handle(raw: bytes) -> Outcome:
    """Record an event or answer a card click; runs inside an app context."""
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        payload = None
    push = push_of(payload) if isinstance(payload, dict) else None
    if push is None:
        # Retrying cannot make it readable: acknowledge so the platform stops, and say so in the log.
        logger.warning("long connection payload ignored: not an event we can read", extra={"bytes": len(raw)})
        return Outcome(200, "unreadable")
    age = _age_beyond_limit(push)
    if age is not None:
        logger.warning("long connection event older than FEISHU_MAX_EVENT_AGE dropped",
                       extra={"event_id": push.event_id, "age_seconds": int(age)})
        return Outcome(200, "too_old")
    try:
        if push.kind in ("card_action", "legacy_card"):
            outcome, body = intake.answer_card(push)
            return Outcome(200, outcome, body)
        return Outcome(200, intake.accept_event(push))
    except Exception:
        # Nothing was recorded (or the click could not be answered): 500 makes the platform retry events.
        logger.exception("long connection event could not be taken", extra={"event_id": push.event_id})
        return Outcome(500, "error")
