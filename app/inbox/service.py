"""Record, claim and settle inbound events; the database decides, not process memory."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from app.inbox.models import EventStatus, InboundEvent
from app.infra.db import db, utcnow

logger = logging.getLogger(__name__)

_CLAIMABLE = (EventStatus.RECEIVED, EventStatus.FAILED)


def record(
    *, event_id: str, event_type: str, payload: dict[str, Any], message_id: str | None = None,
    source: str = "feishu", status: EventStatus = EventStatus.RECEIVED,
) -> InboundEvent | None:
    """Store a new event; None when its event_id or message_id was already recorded (a redelivery)."""
    event = InboundEvent(
        event_id=event_id, message_id=message_id, event_type=event_type, payload=payload, source=source,
        status=status,
    )
    db.session.add(event)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return event


def claim(event_pk: int, *, max_attempts: int) -> InboundEvent | None:
    """Atomically move an event to processing; None if another worker has it or it is settled."""
    result = db.session.execute(
        update(InboundEvent)
        .where(InboundEvent.id == event_pk, InboundEvent.status.in_(_CLAIMABLE),
               InboundEvent.attempts < max_attempts)
        .values(status=EventStatus.PROCESSING, attempts=InboundEvent.attempts + 1, updated_at=utcnow())
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    return db.session.get(InboundEvent, event_pk)


def settle(event: InboundEvent, status: EventStatus, error: str | None = None) -> None:
    """Record the outcome of one processing attempt."""
    event.status = status
    event.last_error = error[:4000] if error else None
    event.updated_at = utcnow()
    if status in (EventStatus.DONE, EventStatus.IGNORED):
        event.processed_at = event.updated_at
    db.session.commit()


def due_for_retry(*, pending_after: int, stale_after: int, max_attempts: int, limit: int = 500) -> list[int]:
    """Ids the sweep should queue again: never picked up, failed, or stuck with a dead worker.

    Stuck events (processing for longer than stale_after) are put back first.
    """
    now = utcnow()
    stuck = db.session.execute(
        update(InboundEvent)
        .where(InboundEvent.status == EventStatus.PROCESSING,
               InboundEvent.updated_at < now - timedelta(seconds=stale_after))
        .values(status=EventStatus.FAILED, last_error="worker stopped while processing", updated_at=now)
    )
    dead = db.session.execute(
        update(InboundEvent)
        .where(InboundEvent.status == EventStatus.FAILED, InboundEvent.attempts >= max_attempts)
        .values(status=EventStatus.DEAD, updated_at=now)
    )
    db.session.commit()
    if stuck.rowcount or dead.rowcount:
        logger.warning("sweep settled events", extra={"stuck": stuck.rowcount, "dead": dead.rowcount})
    rows = db.session.execute(
        select(InboundEvent.id)
        .where(or_(InboundEvent.status == EventStatus.RECEIVED, InboundEvent.status == EventStatus.FAILED),
               InboundEvent.updated_at < now - timedelta(seconds=pending_after))
        .order_by(InboundEvent.id)
        .limit(limit)
    )
    return [row.id for row in rows]
