"""Record, claim and settle inbound events; the database decides, not process memory."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, text, update

from app.inbox.models import EventStatus, InboundEvent
from app.infra import metrics
from app.infra.db import db, utcnow

logger = logging.getLogger(__name__)

_CLAIMABLE = (EventStatus.RECEIVED, EventStatus.FAILED)


def record(
    *, event_id: str, event_type: str, payload: dict[str, Any], message_id: str | None = None,
    source: str = "feishu", status: EventStatus = EventStatus.RECEIVED,
) -> int | None:
    """Store a new event and return its id; None when its event_id or message_id was already recorded.

    This is the webhook's hot path: one autocommitted INSERT ... ON CONFLICT DO NOTHING
    RETURNING round trip.
    """
    now = utcnow()
    params = {"event_id": event_id, "message_id": message_id, "event_type": event_type, "payload": payload,
              "source": source, "status": str(status), "received_at": now, "updated_at": now, "attempts": 0}
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(_RECORD, params).scalar_one_or_none()


# Plain SQL that PostgreSQL and SQLite (3.35+) both accept; text() compiles once.
_RECORD = text(
    "INSERT INTO inbound_events"
    " (event_id, message_id, event_type, payload, source, status, received_at, updated_at, attempts)"
    " VALUES (:event_id, :message_id, :event_type, :payload, :source, :status, :received_at, :updated_at, :attempts)"
    " ON CONFLICT DO NOTHING RETURNING id"
).bindparams(
    bindparam("payload", type_=InboundEvent.__table__.c.payload.type),
    bindparam("received_at", type_=InboundEvent.__table__.c.received_at.type),
    bindparam("updated_at", type_=InboundEvent.__table__.c.updated_at.type),
)


@dataclass(frozen=True)
class ClaimedEvent:
    """What a worker needs of an event it has claimed (read in the same round trip as the claim)."""

    id: int
    event_id: str
    event_type: str
    source: str
    payload: dict[str, Any]
    attempts: int
    received_at: datetime


def claim(event_pk: int, *, max_attempts: int) -> ClaimedEvent | None:
    """Atomically move an event to processing; None if another worker has it or it is settled.

    One autocommitted UPDATE ... RETURNING: the claim is visible to other workers at once.
    """
    table = InboundEvent.__table__
    statement = (
        update(table)
        .where(table.c.id == event_pk, table.c.status.in_([str(s) for s in _CLAIMABLE]),
               table.c.attempts < max_attempts)
        .values(status=str(EventStatus.PROCESSING), attempts=table.c.attempts + 1, updated_at=utcnow())
        .returning(table.c.id, table.c.event_id, table.c.event_type, table.c.source, table.c.payload,
                   table.c.attempts, table.c.received_at)
    )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        row = connection.execute(statement).first()
    if row is None:
        return None
    received = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)
    return ClaimedEvent(**{**row._mapping, "received_at": received})


def settle(event_pk: int, status: EventStatus, error: str | None = None) -> None:
    """Record the outcome of one processing attempt (one autocommitted UPDATE)."""
    table = InboundEvent.__table__
    now = utcnow()
    values: dict[str, Any] = {"status": str(status), "last_error": error[:4000] if error else None, "updated_at": now}
    if status in (EventStatus.DONE, EventStatus.IGNORED):
        values["processed_at"] = now
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(update(table).where(table.c.id == event_pk).values(values))


def due_for_retry(*, pending_after: int, max_attempts: int, limit: int = 500) -> list[int]:
    """Ids the sweep should queue again: never picked up, or failed before routing began.

    Events that failed max_attempts times are settled dead first.
    """
    now = utcnow()
    dead = db.session.execute(
        update(InboundEvent)
        .where(InboundEvent.status == EventStatus.FAILED, InboundEvent.attempts >= max_attempts)
        .values(status=EventStatus.DEAD, updated_at=now)
    )
    db.session.commit()
    metrics.EVENTS_DEAD.inc(max(dead.rowcount, 0))
    if dead.rowcount:
        logger.warning("sweep settled events dead", extra={"dead": dead.rowcount})
    rows = db.session.execute(
        select(InboundEvent.id)
        .where(or_(InboundEvent.status == EventStatus.RECEIVED, InboundEvent.status == EventStatus.FAILED),
               InboundEvent.updated_at < now - timedelta(seconds=pending_after))
        .order_by(InboundEvent.id)
        .limit(limit)
    )
    return [row.id for row in rows]


def stale_processing(*, stale_after: int, limit: int = 500) -> list[int]:
    """Ids of events claimed longer than stale_after ago and never settled (their worker died or hung)."""
    cutoff = utcnow() - timedelta(seconds=stale_after)
    rows = db.session.execute(
        select(InboundEvent.id)
        .where(InboundEvent.status == EventStatus.PROCESSING, InboundEvent.updated_at < cutoff)
        .order_by(InboundEvent.id).limit(limit)
    )
    return [row.id for row in rows]


def mark_interrupted(event_pk: int, error: str, *, only_before: Any = None) -> bool:
    """processing -> interrupted in the current transaction (the caller commits); False if it was not processing."""
    conditions = [InboundEvent.id == event_pk, InboundEvent.status == EventStatus.PROCESSING]
    if only_before is not None:
        conditions.append(InboundEvent.updated_at < only_before)
    result = db.session.execute(
        update(InboundEvent).where(*conditions)
        .values(status=EventStatus.INTERRUPTED, last_error=error[:4000], updated_at=utcnow())
    )
    return bool(result.rowcount)


def mark_handled(event_pk: int, status: EventStatus) -> bool:
    """processing -> done/ignored in the current transaction (the caller commits); False if no longer processing."""
    now = utcnow()
    result = db.session.execute(
        update(InboundEvent).where(InboundEvent.id == event_pk, InboundEvent.status == EventStatus.PROCESSING)
        .values(status=status, last_error=None, updated_at=now, processed_at=now)
    )
    return bool(result.rowcount)
