"""Storm grouping: one storm per chat, one summary card, at most ALERT_STORM_THRESHOLD messages.

A storm is the run of alerts sent to one chat with no quiet gap longer than
ALERT_STORM_WINDOW seconds between them, for at most ALERT_STORM_MAX seconds. The
window slides with the alerts, so a storm is never cut in two by the clock. The first
threshold - 1 alerts get cards of their own, the next opens the storm's summary card
and every later one is listed on it: threshold messages per storm at most.

The database decides: extending the chat's latest storm is one conditional UPDATE,
and opening a new one is an upsert on (chat_id, bucket), where bucket numbers the
chat's storms, so concurrent workers agree on one storm and one summary card.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.alerts.models import AlertBatch
from app.infra.db import db


@dataclass(frozen=True)
class Place:
    """An alert's place in its chat's storm: batch id and position (1-based)."""

    batch_id: int
    position: int

    def individual(self, threshold: int) -> bool:
        """The first threshold - 1 alerts of a storm get cards of their own."""
        return self.position < threshold

    def opens_summary(self, threshold: int) -> bool:
        """Exactly one alert per storm (the threshold-th) posts the summary card."""
        return self.position == threshold


def individual_cards(size: int, threshold: int) -> int:
    """How many alerts of a storm of `size` got cards of their own."""
    return min(size, threshold - 1)


def join(chat_id: str, now: datetime, window: int, longest: int) -> Place:
    """Count this alert into its chat's storm (extending it, or opening the next one) and commit."""
    quiet_since = now - timedelta(seconds=window)
    started_after = now - timedelta(seconds=longest)
    latest = db.session.execute(
        select(AlertBatch.id, AlertBatch.bucket).where(AlertBatch.chat_id == chat_id)
        .order_by(AlertBatch.bucket.desc()).limit(1)
    ).first()
    if latest is not None:
        extended = db.session.execute(
            update(AlertBatch)
            .where(AlertBatch.id == latest.id, AlertBatch.last_alert_at >= quiet_since,
                   AlertBatch.created_at >= started_after)
            .values(size=AlertBatch.size + 1, last_alert_at=now)
            .returning(AlertBatch.size)
        ).first()
        if extended is not None:
            db.session.commit()
            return Place(latest.id, extended.size)
    insert: Any = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    number = latest.bucket + 1 if latest is not None else 0
    stmt = insert(AlertBatch).values(chat_id=chat_id, bucket=number, size=1, card_size=0, created_at=now,
                                     last_alert_at=now)
    # Two workers opening the same storm at once: the second counts itself into the first's row.
    stmt = stmt.on_conflict_do_update(index_elements=[AlertBatch.chat_id, AlertBatch.bucket],
                                      set_={"size": AlertBatch.size + 1, "last_alert_at": now})
    row = db.session.execute(stmt.returning(AlertBatch.id, AlertBatch.size)).one()
    db.session.commit()
    return Place(row.id, row.size)
