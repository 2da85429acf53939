"""Alert (one occurrence of a fingerprint), Silence, AlertBatch (storm summary) and RemediationRun."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.alerts.types import AlertStatus, Severity
from app.infra.db import UTCDateTime, db, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class NotifyState:
    """Where an alert's first notification stands (plain strings in notify_state)."""

    PENDING = "pending"      # stored, no worker has routed it yet
    SENDING = "sending"      # a worker claimed it
    SENT = "sent"            # card (or summary) posted
    GROUPED = "grouped"      # folded into a storm summary card
    SILENCED = "silenced"    # a silence matched; nothing sent
    LOGGED = "logged"        # the route said log only, or no route matched
    FAILED = "failed"        # gave up after several attempts


class Alert(db.Model):  # type: ignore[name-defined]
    """One occurrence: from first firing to resolve. open_key holds the fingerprint while it is open."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(80), index=True)
    # Unique while open, NULL once resolved: the database folds concurrent repeats into one row.
    open_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    source: Mapped[str] = mapped_column(String(64))
    alertname: Mapped[str] = mapped_column(String(200), index=True)
    severity: Mapped[Severity] = mapped_column(String(16))
    status: Mapped[AlertStatus] = mapped_column(String(16), index=True)
    host: Mapped[str | None] = mapped_column(String(255))
    service: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    value: Mapped[str | None] = mapped_column(String(200))
    generator_url: Mapped[str | None] = mapped_column(String(1000))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    prev_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)  # NULL right after insert
    count: Mapped[int] = mapped_column(Integer, default=1)
    # notification
    notify_state: Mapped[str] = mapped_column(String(16), default=NotifyState.PENDING)
    notify_attempts: Mapped[int] = mapped_column(Integer, default=0)
    route_index: Mapped[int | None] = mapped_column(Integer)
    chat_id: Mapped[str | None] = mapped_column(String(128))
    card_message_id: Mapped[str | None] = mapped_column(String(128))
    batch_id: Mapped[int | None] = mapped_column(BigId, index=True)
    card_count: Mapped[int] = mapped_column(Integer, default=0)  # the count the card shows
    card_stale: Mapped[bool] = mapped_column(Boolean, default=False)  # state changed; card needs a PATCH
    card_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # people
    acked_by: Mapped[str | None] = mapped_column(String(128))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # escalation: step n done, the next one due at next_escalation_at (NULL: none due)
    schedule: Mapped[str | None] = mapped_column(String(64))
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_log: Mapped[list[Any]] = mapped_column(JSON, default=list)

    __table_args__ = (
        Index("ix_alerts_next_escalation_at", "next_escalation_at"),
        Index("ix_alerts_notify_state", "notify_state"),
    )

    @property
    def is_open(self) -> bool:
        return self.status != AlertStatus.RESOLVED

    @property
    def title(self) -> str:
        return f"{self.alertname} on {self.host}" if self.host else self.alertname


class Silence(db.Model):  # type: ignore[name-defined]
    """Matchers that suppress notifications of matching alerts until ends_at."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    matchers: Mapped[dict[str, str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    comment: Mapped[str | None] = mapped_column(String(500))
    removed_by: Mapped[str | None] = mapped_column(String(128))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertBatch(db.Model):  # type: ignore[name-defined]
    """One storm of alerts sent to one chat (see app.alerts.storm); past the threshold they share one summary card."""

    __tablename__ = "alert_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128))
    bucket: Mapped[int] = mapped_column(BigInteger)  # numbers the chat's storms, one after another
    size: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(128))
    card_size: Mapped[int] = mapped_column(Integer, default=0)  # alerts the summary card lists
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the storm goes on after it

    __table_args__ = (UniqueConstraint("chat_id", "bucket", name="uq_alert_batches_chat_id_bucket"),)


class RemediationRun(db.Model):  # type: ignore[name-defined]
    """One self-healing run: slot n of a rule's hourly allowance, its execution and the re-check."""

    __tablename__ = "alert_remediations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(BigId, index=True)
    rule: Mapped[str] = mapped_column(String(64))  # "<index>:<runbook>"
    hour: Mapped[int] = mapped_column(BigInteger)  # unix time // 3600
    slot: Mapped[int] = mapped_column(Integer)
    runbook: Mapped[str] = mapped_column(String(64))
    execution_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(24), default="requested")  # requested/refused/<execution status>
    summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    checked: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("rule", "hour", "slot", name="uq_alert_remediations_rule_hour_slot"),)
