"""What has been exported to Bitable: one row per exported record, one cursor per kind."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.db import UTCDateTime, db, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class BitableRow(db.Model):  # type: ignore[name-defined]
    """An alert, incident or execution as last sent: its Bitable record_id and a digest of the fields."""

    __tablename__ = "bitable_rows"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    object_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    table_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    final: Mapped[bool] = mapped_column(Boolean, default=False, index=True)  # will not change again
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BitableCursor(db.Model):  # type: ignore[name-defined]
    """The high-water mark per kind: every object with an id up to last_id has been sent once."""

    __tablename__ = "bitable_cursors"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    table_id: Mapped[str] = mapped_column(String(64))
    last_id: Mapped[int] = mapped_column(BigId, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Object ids of a batch_create in flight: if the run dies before recording the answer,
    # the next run looks these up in the table instead of creating them again.
    pending: Mapped[list[int] | None] = mapped_column(JSON)
