"""The one outbound port for chat messages: stage in the caller's transaction, deliver by key, retry.

A message is first a row (staged in the same transaction as whatever made it
owed, e.g. the inbox marking a message handled), then delivered. Delivery is
retried by the deliver job and the sweep until Feishu accepts it; every attempt
sends the row's `key` as Feishu's `uuid`, so a retry after a lost answer (or a
worker killed mid-call) is shown once. Feishu keeps a uuid for one hour, so a
row is given up (dead) once it is older than that.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.feishu.errors import (
    FeishuBadRequest,
    FeishuMessageTooLarge,
    FeishuNotFound,
    FeishuPermissionError,
    FeishuRateLimited,
)
from app.infra.db import db, utcnow
from app.outbox.models import OutboundMessage, OutboxKind, OutboxStatus

logger = logging.getLogger(__name__)

GIVE_UP_AFTER = 3600  # seconds: Feishu forgets a uuid after an hour, so later retries could show twice
MAX_BACKOFF = 300
PAUSE_AFTER_OUTAGE = 2.0  # seconds this process sends nothing inline after Feishu failed to answer ...
MAX_PAUSE = 10.0  # ... doubling per failure in a row, up to this
SLOW_FAILURE = 1.0  # seconds: a failed attempt slower than this (the client retried a dead link) doubles the pause
PAUSE_AFTER_FAST_FAILURE = 1.0
REFUSED = (FeishuBadRequest, FeishuMessageTooLarge, FeishuNotFound, FeishuPermissionError)


@dataclass(frozen=True)
class Outgoing:
    """One message the bot owes: a reply, a new message, or a card update; `key` is its Feishu uuid."""

    kind: OutboxKind
    target: str
    key: str
    text: str | None = None
    card: dict[str, Any] | None = None
    chat_id: str | None = None
    receive_id_type: str = "chat_id"
    on_sent: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.card is None):
            raise ValueError("an outgoing message has either text or a card")
        if not 0 < len(self.key) <= 50:
            raise ValueError("an outbox key is 1 to 50 characters (Feishu's uuid limit)")


def reply(to_message_id: str, *, key: str, text: str | None = None, card: dict[str, Any] | None = None,
          chat_id: str | None = None, on_sent: dict[str, Any] | None = None) -> Outgoing:
    """A reply to to_message_id."""
    return Outgoing(OutboxKind.REPLY, to_message_id, key, text, card, chat_id, on_sent=on_sent)


def send(receive_id: str, *, key: str, text: str | None = None, card: dict[str, Any] | None = None,
         receive_id_type: str = "chat_id", on_sent: dict[str, Any] | None = None) -> Outgoing:
    """A new message to a chat (or a person, with receive_id_type="open_id")."""
    chat_id = receive_id if receive_id_type == "chat_id" else None
    return Outgoing(OutboxKind.SEND, receive_id, key, text, card, chat_id, receive_id_type, on_sent)


def update_card(message_id: str, card: dict[str, Any], *, key: str) -> Outgoing:
    """A new content for the card at message_id (sent by the bot)."""
    return Outgoing(OutboxKind.UPDATE_CARD, message_id, key, card=card)


def stage(item: Outgoing, *, event_pk: int | None = None) -> int | None:
    """Add item to the current transaction (the caller commits); None when its key was staged before."""
    values = {
        "key": item.key, "kind": str(item.kind), "target": item.target, "receive_id_type": item.receive_id_type,
        "chat_id": item.chat_id, "event_id": event_pk, "text": item.text, "card": item.card,
        "on_sent": item.on_sent, "status": str(OutboxStatus.PENDING), "attempts": 0, "created_at": utcnow(),
        "next_attempt_at": utcnow(),
    }
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(OutboundMessage).values(values).on_conflict_do_nothing(index_elements=["key"])
    return db.session.execute(statement.returning(OutboundMessage.id)).scalar_one_or_none()


def stage_latest(item: Outgoing) -> int:
    """Stage item, or replace the content of the row with its key and owe it again (newest state wins).

    For card updates: only the latest content matters, and a PATCH is idempotent.
    """
    outbox_id = stage(item)
    if outbox_id is not None:
        return outbox_id
    owed_again = or_(OutboundMessage.status == OutboxStatus.PENDING, OutboundMessage.kind == OutboxKind.UPDATE_CARD)
    db.session.execute(update(OutboundMessage).where(OutboundMessage.key == item.key, owed_again).values(
        text=item.text, card=item.card, status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utcnow(),
        last_error=None))
    return int(db.session.execute(select(OutboundMessage.id).where(OutboundMessage.key == item.key)).scalar_one())


def post(item: Outgoing, *, latest: bool = False) -> bool:
    """Stage item in its own transaction and try to deliver it now; True once Feishu has it.

    For callers with nothing else to commit (progress cards); a failed attempt stays pending for the sweep.
    With latest, a row already staged under the key gets this content (see stage_latest).
    """
    outbox_id = stage_latest(item) if latest else stage(item)
    db.session.commit()
    if outbox_id is None:
        outbox_id = db.session.execute(select(OutboundMessage.id).where(OutboundMessage.key == item.key)).scalar_one()
    return deliver(outbox_id)


class _Pause:
    """While Feishu is failing, inline attempts are skipped and the sweep probes with one row per round.

    Without it every reply and progress card would wait out the client's own retries during an
    outage, and the worker would have no time left for the commands themselves. The pause doubles
    with each failure in a row (2 s up to 10 s) and ends with the first success.
    """

    def __init__(self) -> None:
        self._until = 0.0
        self._failures = 0
        self._lock = threading.Lock()

    def active(self) -> bool:
        return time.monotonic() < self._until

    def start(self, seconds: float | None = None) -> None:
        """Pause for seconds, or (None) for a doubling spell after each failure in a row."""
        with self._lock:
            self._failures += 1
            if seconds is None:
                seconds = min(PAUSE_AFTER_OUTAGE * 2 ** (self._failures - 1), MAX_PAUSE)
            self._until = max(self._until, time.monotonic() + seconds)

    def clear(self) -> None:
        with self._lock:
            self._until, self._failures = 0.0, 0


PAUSE = _Pause()


def _claim(outbox_id: int) -> OutboundMessage | None:
    from flask import current_app

    now = utcnow()
    hold = int(current_app.config["OUTBOX_CLAIM_TIMEOUT"])
    table = OutboundMessage.__table__
    statement = (
        update(table)
        .where(table.c.id == outbox_id, table.c.status == str(OutboxStatus.PENDING),
               or_(table.c.claimed_until.is_(None), table.c.claimed_until < now))
        .values(claimed_until=now + timedelta(seconds=hold), attempts=table.c.attempts + 1)
        .returning(table.c.id)
    )
    claimed = db.session.execute(statement).scalar_one_or_none()
    db.session.commit()
    if claimed is None:
        return None
    return db.session.get(OutboundMessage, outbox_id, populate_existing=True)


def deliver(outbox_id: int, *, probe: bool = False) -> bool:
    """One delivery attempt of a pending row; True when it is (or already was) sent.

    While a recent attempt found Feishu failing, only a probe (the sweep's first row) is tried;
    the others stay pending, untouched, for the next round.
    """
    if PAUSE.active() and not probe:
        return False
    row = _claim(outbox_id)
    if row is None:
        status = db.session.execute(select(OutboundMessage.status).where(OutboundMessage.id == outbox_id)).scalar()
        return status == OutboxStatus.SENT
    started = time.monotonic()
    try:
        message_id = _transmit(row)
    except REFUSED as exc:  # refused for good (withdrawn message, no permission, bad card): retry cannot help
        _failed(row, exc, permanent=exc.http_status < 500)
        return False
    except Exception as exc:  # noqa: BLE001 - outage, rate limit, 5xx, token or config trouble: retried
        _failed(row, exc, permanent=False)
        if isinstance(exc, FeishuRateLimited):
            PAUSE.start(exc.retry_after)
        elif time.monotonic() - started < SLOW_FAILURE:
            PAUSE.start(PAUSE_AFTER_FAST_FAILURE)  # a quick 5xx costs little: probe again soon
        else:
            PAUSE.start()  # unreachable or timing out: back off, doubling
        return False
    PAUSE.clear()
    from app.infra.faults import fault_point

    fault_point("outbox_after_send")
    _sent(row, message_id)
    return True


def _transmit(row: OutboundMessage) -> str | None:
    from app.feishu.wiring import get_client

    client = get_client()
    if row.kind == OutboxKind.REPLY:
        if row.card is not None:
            return str(client.reply_card(row.target, row.card, uuid=row.key, chat_id=row.chat_id))
        return str(client.reply_text(row.target, row.text or "", uuid=row.key, chat_id=row.chat_id)[0])
    if row.kind == OutboxKind.SEND:
        if row.card is not None:
            return str(client.send_card(row.target, row.card, receive_id_type=row.receive_id_type, uuid=row.key))
        return str(client.send_text(row.target, row.text or "", receive_id_type=row.receive_id_type,
                                    uuid=row.key)[0])
    client.update_card(row.target, row.card or {})
    return None


def _sent(row: OutboundMessage, message_id: str | None) -> None:
    # attempts is part of the condition: a row restaged with newer content meanwhile stays owed.
    db.session.execute(update(OutboundMessage).where(OutboundMessage.id == row.id,
                                                     OutboundMessage.attempts == row.attempts).values(
        status=OutboxStatus.SENT, sent_message_id=message_id, sent_at=utcnow(), claimed_until=None, last_error=None))
    db.session.commit()
    if row.on_sent and message_id:
        _after_sent(row.on_sent, message_id)


def _after_sent(on_sent: dict[str, Any], message_id: str) -> None:
    """Remember where a delivered card lives, so later updates can find it."""
    execution_id = on_sent.get("execution_card")
    if execution_id is not None:
        from app.automation import service as automation

        automation.set_card_message(int(execution_id), message_id)


def _failed(row: OutboundMessage, exc: Exception, *, permanent: bool) -> None:
    now = utcnow()
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=now.tzinfo)
    expired = (now - created).total_seconds() > GIVE_UP_AFTER
    wait = exc.retry_after if isinstance(exc, FeishuRateLimited) else min(2 ** max(row.attempts - 1, 0), MAX_BACKOFF)
    dead = permanent or expired
    db.session.rollback()
    db.session.execute(update(OutboundMessage).where(OutboundMessage.id == row.id).values(
        status=OutboxStatus.DEAD if dead else OutboxStatus.PENDING, claimed_until=None,
        next_attempt_at=now + timedelta(seconds=wait), last_error=f"{type(exc).__name__}: {exc}"[:4000]))
    db.session.commit()
    log = logger.error if dead else logger.warning
    log("outbox delivery failed", extra={"outbox_id": row.id, "key": row.key, "attempt": row.attempts,
                                         "gave_up": dead, "error": type(exc).__name__})


def due(*, limit: int = 500) -> list[int]:
    """Pending rows whose next attempt is due and that no live attempt holds, oldest first."""
    now = utcnow()
    rows = db.session.execute(
        select(OutboundMessage.id)
        .where(OutboundMessage.status == OutboxStatus.PENDING, OutboundMessage.next_attempt_at <= now,
               or_(OutboundMessage.claimed_until.is_(None), OutboundMessage.claimed_until < now))
        .order_by(OutboundMessage.id).limit(limit)
    ).scalars().all()
    return list(rows)


def pending_for_event(event_pk: int) -> list[int]:
    """The undelivered rows staged for one inbound event."""
    return list(db.session.execute(
        select(OutboundMessage.id).where(and_(OutboundMessage.event_id == event_pk,
                                              OutboundMessage.status == OutboxStatus.PENDING))
        .order_by(OutboundMessage.id)
    ).scalars())
