"""OutboundMessage: one message the bot owes a chat, stored before it is sent."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.db import UTCDateTime, db, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class OutboxStatus(StrEnum):
    PENDING = "pending"  # not yet accepted by Feishu; the deliver job and the sweep retry it
    SENT = "sent"
    DEAD = "dead"        # gave up: Feishu refused it for good, or retries outlived the uuid's 1 h window


class OutboxKind(StrEnum):
    REPLY = "reply"              # reply to target (a message id)
    SEND = "send"                # new message to target (a chat id, or an open id with receive_id_type)
    UPDATE_CARD = "update_card"  # replace the card at target (a message id the bot sent)


class OutboundMessage(db.Model):  # type: ignore[name-defined]
    """A reply, message or card update; `key` is the Feishu uuid, so every retry is the same message."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(128))
    receive_id_type: Mapped[str] = mapped_column(String(16), default="chat_id")
    chat_id: Mapped[str | None] = mapped_column(String(128))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_events.id", ondelete="SET NULL"), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    card: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    on_sent: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # e.g. {"execution_card": 12}
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
