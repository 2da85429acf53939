"""Alert jobs: notify new alerts and refresh cards; the periodic tick for escalation and sweeps."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from app.alerts import escalation, notify, remediation, service, window
from app.alerts.models import NotifyState
from app.infra.db import utcnow
from app.infra.handoff import handoff
from app.infra.lanes import Lane
from app.infra.queue import job
from app.infra.redis import get_redis
from app.infra.scheduler import Periodic

logger = logging.getLogger(__name__)


@job("default", timeout=300, lane=Lane.BULK)
def notify_alerts(alert_ids: list[int]) -> dict[str, int]:
    """Route pending alerts and refresh the cards of changed ones; safe to run twice."""
    counts = {"notified": 0, "refreshed": 0, "failed": 0}
    for alert_id in alert_ids:
        alert = service.get_alert(alert_id)
        if alert is None:
            continue
        try:
            if alert.notify_state == NotifyState.PENDING:
                counts["notified"] += notify.notify(alert_id) is not None
            elif alert.card_stale and notify.refresh(alert_id):
                counts["refreshed"] += 1
        except Exception:
            counts["failed"] += 1
            logger.exception("alert job step failed", extra={"alert_id": alert_id})
    return counts


def tick(now: datetime | None = None) -> dict[str, Any]:
    """One round of periodic work at now (tests pass their own clock)."""
    now = now or utcnow()
    config = current_app.config
    redis = get_redis()
    result: dict[str, Any] = {"flushed": window.flush(redis) if redis is not None else 0}
    result["escalated"] = escalation.run_due(now)
    result["remediation"] = remediation.check_runs(now)
    while handed := NOTIFICATIONS.take():  # a drain job that was never queued or died
        notify_alerts(handed)
    pending = notify.due_notifications(now)
    if pending:
        notify_alerts(pending)
    alerts, batches = notify.due_refreshes(now, config["ALERT_CARD_REFRESH"])
    for alert_id in alerts:
        _quietly(notify.refresh, alert_id, now=now)
    for batch_id in batches:
        _quietly(notify.refresh_batch, batch_id, now=now)
    result.update(pending=len(pending), refreshed=len(alerts), batches=len(batches))
    return result


def _quietly(func: Any, *args: Any, **kwargs: Any) -> None:
    try:
        func(*args, **kwargs)
    except Exception:
        logger.warning("card refresh failed", exc_info=True, extra={"target": args})


@job("default", timeout=120, lane=Lane.BULK)
def tick_alerts(now_ts: float | None = None) -> dict[str, Any]:
    """The periodic alert tick: escalation steps, remediation checks, card refreshes, lost notifications."""
    now = datetime.fromtimestamp(now_ts, UTC) if now_ts is not None else None
    return tick(now)


NOTIFICATIONS = handoff("openclaw:alerts:handoff", notify_alerts, batch=500)


def queue_notifications(alert_ids: list[int]) -> None:
    """Hand alerts to a worker (see app/infra/handoff.py); when the queue is down the tick picks them up later."""
    try:
        NOTIFICATIONS.push(*alert_ids)
    except Exception as exc:  # noqa: BLE001 - stored already; the tick retries when the queue is back
        logger.warning("could not queue alert notifications; the tick will retry",
                       extra={"count": len(alert_ids), "error": type(exc).__name__})


PERIODIC = (
    Periodic("alerts_tick", lambda app: int(app.config["ALERT_TICK_INTERVAL"]), tick_alerts),
)
