"""POST /webhook/alertmanager and /webhook/alerts: authenticate, parse, store in one transaction, answer."""
from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from app.alerts import metrics as alert_metrics
from app.alerts.errors import AlertParseError
from app.alerts.ingest import ingest
from app.alerts.sources import alertmanager, generic
from app.alerts.tasks import queue_notifications
from app.alerts.types import AlertIn
from app.infra import metrics
from app.infra.redis import get_redis
from app.inventory import get_inventory
from app.web.errors import json_error

logger = logging.getLogger(__name__)

bp = Blueprint("alert_webhooks", __name__, url_prefix="/webhook")


def _unauthorized() -> str | None:
    """The reason to refuse the request, or None when its bearer token is right."""
    expected = current_app.config.get("ALERT_WEBHOOK_TOKEN")
    if not expected:
        return "ALERT_WEBHOOK_TOKEN is not configured; alert webhooks are refused"
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return "missing Authorization: Bearer token"
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return "bearer token does not match"
    return None


def _handle(endpoint: str, parse: Callable[[Any], list[AlertIn]]):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    outcome = "error"
    try:
        reason = _unauthorized()
        if reason:
            outcome = "unauthorized"
            logger.warning("alert webhook refused", extra={"endpoint": endpoint, "reason": reason,
                                                            "remote_addr": request.remote_addr})
            return json_error(401, reason)
        try:
            payload = json.loads(request.get_data(cache=False))
            alerts = parse(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            outcome = "bad_request"
            return json_error(400, f"body is not valid JSON: {exc}")
        except AlertParseError as exc:
            outcome = "bad_request"
            return json_error(400, exc.user_message)
        result = ingest(alerts, dedup_window=get_inventory().alerting.dedup_window, redis=get_redis())
        queue_notifications(result.to_notify)
        for name, count in (("new", len(result.new)), ("repeat", result.repeats), ("resolved", len(result.resolved)),
                            ("reminder", len(result.reminders)), ("unknown_resolved", result.unknown_resolved)):
            if count:
                alert_metrics.INGESTED.labels(endpoint=endpoint, outcome=name).inc(count)
        outcome = "accepted"
        return jsonify(received=result.received, new=len(result.new), repeats=result.repeats,
                       reminders=len(result.reminders), resolved=len(result.resolved),
                       unknown_resolved=result.unknown_resolved)
    finally:
        metrics.WEBHOOK_REQUESTS.labels(endpoint=endpoint, outcome=outcome).inc()
        if outcome != "accepted":
            metrics.count_error("webhook", f"{endpoint}_{outcome}")
        metrics.WEBHOOK_LATENCY.labels(endpoint=endpoint).observe(time.perf_counter() - started)


@bp.post("/alertmanager")
def alertmanager_webhook():  # type: ignore[no-untyped-def]
    """Prometheus Alertmanager's webhook_config (payload version 4)."""
    limit = current_app.config["ALERT_MAX_PER_REQUEST"]

    def parse(payload: Any) -> list[AlertIn]:
        alerts = alertmanager.parse(payload, max_alerts=limit)
        if payload.get("truncatedAlerts"):  # Alertmanager's max_alerts dropped some: they are not lost there
            logger.warning("alertmanager truncated alerts", extra={"truncated": payload["truncatedAlerts"],
                                                                    "group_key": payload.get("groupKey")})
        return alerts

    return _handle("alertmanager", parse)


@bp.post("/alerts")
def generic_webhook():  # type: ignore[no-untyped-def]
    """The generic alert format: one object or a list."""
    config = current_app.config
    return _handle("alerts", lambda payload: generic.parse(
        payload, keys=config["ALERT_FINGERPRINT_FIELDS"], max_alerts=config["ALERT_MAX_PER_REQUEST"]))
