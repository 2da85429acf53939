"""Incident (who leads it, where it is discussed, which alerts it covers) and IncidentNote (its timeline)."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.db import UTCDateTime, db, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class IncidentSeverity(StrEnum):
    """sev1 (everything is down) to sev4 (minor); sev3 unless said otherwise."""

    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"


class IncidentStatus(StrEnum):
    """open until someone closes it; resolved is final."""

    OPEN = "open"
    RESOLVED = "resolved"


class NoteKind(StrEnum):
    """A timeline entry a person wrote, or one the bot wrote for a state change."""

    NOTE = "note"
    EVENT = "event"


class Incident(db.Model):  # type: ignore[name-defined]
    """One incident from open to resolved; the war room is the Feishu group created for it."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[IncidentSeverity] = mapped_column(String(8), default=IncidentSeverity.SEV3)
    status: Mapped[IncidentStatus] = mapped_column(String(16), default=IncidentStatus.OPEN, index=True)
    commander: Mapped[str] = mapped_column(String(128))
    opened_by: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[str | None] = mapped_column(String(128))  # where /incident open was said
    # The inbound event that opened it: a redelivered message finds this incident instead of opening another.
    opened_event_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    war_room_chat_id: Mapped[str | None] = mapped_column(String(128))
    card_message_id: Mapped[str | None] = mapped_column(String(128))  # the incident card in the war room
    alert_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    # The postmortem draft written on close: claimed once ("drafting"), then "drafted" with its article.
    postmortem_state: Mapped[str | None] = mapped_column(String(16))
    postmortem_article_id: Mapped[int | None] = mapped_column(BigId)

    @property
    def ref(self) -> str:
        """How people name it: INC-7."""
        return f"INC-{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status == IncidentStatus.OPEN


class IncidentNote(db.Model):  # type: ignore[name-defined]
    """One timeline entry: a note someone added, or an event (opened, war room, closed)."""

    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(128))
    kind: Mapped[NoteKind] = mapped_column(String(8), default=NoteKind.NOTE)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
