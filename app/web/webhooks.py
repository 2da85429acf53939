"""POST /webhook/feishu: verify, record, queue, answer. Card clicks are answered inline."""
from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify, request

from app.feishu import events as feishu_events
from app.feishu import intake
from app.feishu.events import PushRejected, SecurityConfig
from app.infra import metrics
from app.web.errors import json_error

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhook")

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
            outcome, body = intake.answer_card(push)
            return jsonify(body)
        outcome = intake.accept_event(push)
        return jsonify(msg="success")
    finally:
        metrics.WEBHOOK_REQUESTS.labels(endpoint="feishu", outcome=outcome).inc()
        if outcome in ("unauthorized", "bad_request", "error"):
            metrics.count_error("webhook", f"feishu_{outcome}")
        metrics.WEBHOOK_LATENCY.labels(endpoint="feishu").observe(time.perf_counter() - started)
