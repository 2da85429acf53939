"""Execution (one requested action) and ExecutionHost (one command on one host); settings and locks."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from app.infra.db import UTCDateTime, db, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class ExecutionKind(StrEnum):
    STATUS = "status"
    LOGS = "logs"
    RESTART = "restart"
    DEPLOY = "deploy"
    RUN = "run"


class ExecutionStatus(StrEnum):
    QUEUED = "queued"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the worker died mid-run; never re-run automatically
    REJECTED = "rejected"
    EXPIRED = "expired"          # nobody approved in time

    @property
    def finished(self) -> bool:
        return self not in (ExecutionStatus.QUEUED, ExecutionStatus.AWAITING_APPROVAL, ExecutionStatus.RUNNING)


MUTATING = (ExecutionKind.RESTART, ExecutionKind.DEPLOY, ExecutionKind.RUN)


class StrEnumColumn(TypeDecorator[StrEnum]):
    """A StrEnum stored as a plain string column and read back as the enum member."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(self.enum(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


class Execution(db.Model):  # type: ignore[name-defined]
    """One action someone asked for, from request through approval to its outcome."""

    __tablename__ = "executions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[ExecutionKind] = mapped_column(StrEnumColumn(ExecutionKind, 16), index=True)
    target: Mapped[str] = mapped_column(String(256))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    plan_digest: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(128), index=True)
    # The chat message that asked for it: a redelivered or re-queued message finds this execution.
    request_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    chat_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[ExecutionStatus] = mapped_column(
        StrEnumColumn(ExecutionStatus, 24), default=ExecutionStatus.QUEUED, index=True
    )
    approver: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    card_message_id: Mapped[str | None] = mapped_column(String(128))
    cancelled_by: Mapped[str | None] = mapped_column(String(128))
    worker: Mapped[str | None] = mapped_column(String(128))
    summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)

    hosts: Mapped[list[ExecutionHost]] = relationship(
        back_populates="execution", order_by="ExecutionHost.id", cascade="all, delete-orphan"
    )

    # Not stored: set by the service when the run is queued in the database but the job queue was down.
    queue_unreachable = False

    def __repr__(self) -> str:
        return f"<Execution #{self.id} {self.kind} {self.target} {self.status}>"


class ExecutionHost(db.Model):  # type: ignore[name-defined]
    """One command of one step on one host: what ran (redacted), how it ended, its output (redacted, capped)."""

    __tablename__ = "execution_hosts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    execution_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("executions.id", ondelete="CASCADE"), index=True
    )
    host: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(Integer, default=0)
    step_name: Mapped[str] = mapped_column(String(64), default="")
    command: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    output: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    execution: Mapped[Execution] = relationship(back_populates="hosts")


class AutomationSetting(db.Model):  # type: ignore[name-defined]
    """A named switch shared by every process (the kill switch lives here)."""

    __tablename__ = "automation_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutomationLock(db.Model):  # type: ignore[name-defined]
    """A named lock held by an execution, for embedded mode (Redis holds locks when configured)."""

    __tablename__ = "automation_locks"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    execution_id: Mapped[int | None] = mapped_column(BigId)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
