"""InboundEvent: every push we accepted, with its processing state; ConsoleReply for the console channel."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.db import UTCDateTime, db, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class EventStatus(StrEnum):
    RECEIVED = "received"      # recorded, waiting for a worker
    PROCESSING = "processing"  # claimed by a worker
    DONE = "done"
    IGNORED = "ignored"        # nothing to do (unknown type, chatter not for the bot)
    FAILED = "failed"          # failed before routing began; retried by the sweep until max attempts
    DEAD = "dead"              # gave up after max attempts
    INTERRUPTED = "interrupted"  # routing began and did not finish; never routed again, the chat is told


class InboundEvent(db.Model):  # type: ignore[name-defined]
    __tablename__ = "inbound_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(160), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="feishu")
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[EventStatus] = mapped_column(String(16), default=EventStatus.RECEIVED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsoleReply(db.Model):  # type: ignore[name-defined]
    """A reply delivered to the local console channel instead of Feishu."""

    __tablename__ = "console_replies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("inbound_events.id", ondelete="CASCADE"), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    card: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CommandReceipt(db.Model):  # type: ignore[name-defined]
    """A mutating command's idempotency key (the message id): the database lets it run once."""

    __tablename__ = "command_receipts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    command: Mapped[str] = mapped_column(String(64))
    open_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
