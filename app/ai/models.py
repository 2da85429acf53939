"""LLMCall: one row per model call, with the same field names as its JSON log line (ELK-ready)."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String, Text
from sqlalchemy.sql.expression import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.db import UTCDateTime, db, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class CallStatus(StrEnum):
    OK = "ok"
    ERROR = "error"


class LLMCall(db.Model):  # type: ignore[name-defined]
    """A measured model call: who, which model, tokens, latency, outcome and tags."""

    __tablename__ = "llm_calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    request_id: Mapped[str] = mapped_column(String(160), index=True)
    user_id: Mapped[str | None] = mapped_column(String(128), index=True)
    chat_id: Mapped[str | None] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(128))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[float] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    status: Mapped[CallStatus] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    token_efficiency: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Who called: "bot" for the assistant, else the gateway's API token name; the upstream that answered;
    # whether the token counts were estimated (the upstream sent no usage).
    client: Mapped[str] = mapped_column(String(64), default="bot", server_default="bot", index=True)
    upstream: Mapped[str | None] = mapped_column(String(128))
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
