"""Gauges read from shared state, refreshed by the process that answers a scrape."""
from __future__ import annotations

import logging

from sqlalchemy import func, select

from app.infra import metrics
from app.infra.db import db

logger = logging.getLogger(__name__)


def refresh() -> None:
    """Queue depth and age, dead events, automation paused, audit head; each part fails alone."""
    for part in (_queues, _dead_events, _paused, _audit_head):
        try:
            part()
        except Exception as exc:  # noqa: BLE001 - a scrape must still answer
            db.session.rollback()
            logger.warning("metrics refresh failed", extra={"part": part.__name__, "error": type(exc).__name__})
            metrics.count_error("metrics", part.__name__.lstrip("_"))


def _queues() -> None:
    from app.monitoring.queues import queue_states

    for state in queue_states():
        metrics.QUEUE_DEPTH.labels(queue=state.name).set(state.depth)
        metrics.QUEUE_OLDEST.labels(queue=state.name).set(state.oldest_age)


def _dead_events() -> None:
    from app.inbox.models import EventStatus, InboundEvent

    count = db.session.execute(select(func.count()).where(InboundEvent.status == EventStatus.DEAD)).scalar_one()
    metrics.DEAD_EVENTS.set(count)


def _paused() -> None:
    from app.automation.policy import pause_state

    metrics.AUTOMATION_PAUSED.set(1 if pause_state() is not None else 0)


def _audit_head() -> None:
    from app.audit.models import AuditEvent

    head = db.session.execute(select(func.max(AuditEvent.seq))).scalar_one()
    metrics.AUDIT_HEAD_SEQ.set(head or 0)
