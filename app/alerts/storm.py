"""Storm grouping: past a threshold of alerts per chat per window, alerts share one summary card.

The database decides: one upsert per alert on (chat_id, bucket) returns this alert's
place in the window, so exactly one worker creates the summary card.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from app.alerts.models import AlertBatch
from app.infra.db import db


@dataclass(frozen=True)
class Place:
    """An alert's place in its chat's storm window: batch id and position (1-based)."""

    batch_id: int
    position: int

    def individual(self, threshold: int) -> bool:
        """The first `threshold` alerts of a window get cards of their own."""
        return self.position <= threshold

    def opens_summary(self, threshold: int) -> bool:
        """Exactly one alert per window (the first past the threshold) posts the summary card."""
        return self.position == threshold + 1


def bucket_of(now: datetime, window: int) -> int:
    """The storm window now falls in."""
    return int(now.timestamp()) // window


def join(chat_id: str, now: datetime, window: int) -> Place:
    """Count this alert into its chat's current window and commit."""
    insert: Any = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(AlertBatch).values(chat_id=chat_id, bucket=bucket_of(now, window), size=1, card_size=0,
                                     created_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=[AlertBatch.chat_id, AlertBatch.bucket],
                                      set_={"size": AlertBatch.size + 1, "updated_at": now})
    row = db.session.execute(stmt.returning(AlertBatch.id, AlertBatch.size)).one()
    db.session.commit()
    return Place(row.id, row.size)
