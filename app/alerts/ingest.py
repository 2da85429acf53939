"""ingest(): store one request's alerts atomically; Redis and the unique open_key fold repeats.

Repeats inside the dedup window are counted in Redis (window.py). Everything else is
one INSERT ... ON CONFLICT (open_key) DO UPDATE ... RETURNING (PostgreSQL and SQLite),
so concurrent web processes folding the same fingerprint cannot create two open alerts.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from sqlalchemy import Connection, TextClause, bindparam, case, literal, text, update

from app.alerts import window
from app.alerts.dedup import Segment, is_reminder, segments
from app.alerts.models import Alert
from app.alerts.types import AlertIn, AlertStatus
from app.infra import metrics
from app.infra.db import db, utcnow

logger = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What one request changed: new alerts, reminders and closures need a worker; repeats do not."""

    received: int = 0
    new: list[int] = field(default_factory=list)
    reminders: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    repeats: int = 0
    unknown_resolved: int = 0

    @property
    def to_notify(self) -> list[int]:
        return self.new + self.reminders + self.resolved


def ingest(alerts: Sequence[AlertIn], *, dedup_window: int, now: datetime | None = None,
           redis: Redis | None = None) -> IngestResult:
    """Fold, insert and close alerts atomically; any error leaves nothing of the request stored.

    With Redis, repeats inside the dedup window are counted there (window.py) and the rest
    goes to the database; the common case (firing alerts only) is one autocommitted statement.
    """
    now = now or utcnow()
    result = IngestResult(received=len(alerts))
    metrics.ALERTS.labels(stage="received").inc(len(alerts))
    parts = segments(alerts)
    folded: dict[str, int] = {}
    times: dict[str, int] = {}
    if redis is not None and len(parts) == 1 and not parts[0].resolved:
        firing = parts[0].firing
        times = {fp: f.times for fp, f in firing.items()}
        folded = window.fold_known(redis, times, dedup_window, now)
        result.repeats += len(folded)
        parts = [Segment(firing={fp: f for fp, f in firing.items() if fp not in folded})]
        if not parts[0].firing:
            metrics.ALERTS.labels(stage="deduplicated").inc(result.repeats)
            return result
    single = len(parts) == 1 and not parts[0].resolved
    options = {"isolation_level": "AUTOCOMMIT"} if single else {}
    opened: dict[str, int] = {}
    closed: list[tuple[str, int]] = []
    try:
        with (db.engine.connect().execution_options(**options) as connection,
              connection.begin() if not single else _nothing()):
            for segment in parts:
                _apply(connection, segment, result, opened, closed, dedup_window=dedup_window, now=now)
    except Exception:
        if folded and redis is not None:  # nothing of a failed request stays counted
            window.unfold(redis, folded, times)
        raise
    if redis is not None:
        window.forget(redis, closed, dedup_window)
        window.remember(redis, {fp: i for fp, i in opened.items() if (fp, i) not in closed}, dedup_window)
    metrics.ALERTS.labels(stage="deduplicated").inc(result.repeats)
    return result


class _nothing:
    """A context manager that does nothing (the autocommitted single statement needs no transaction)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _apply(connection: Connection, segment: Segment, result: IngestResult, opened: dict[str, int],
           closed: list[tuple[str, int]], *, dedup_window: int, now: datetime) -> None:
    if segment.firing:
        # Sorted, so concurrent requests lock rows in the same order and cannot deadlock each other.
        folded = [segment.firing[fp] for fp in sorted(segment.firing)]
        params: dict[str, Any] = {"now": now, "cutoff": now - timedelta(seconds=dedup_window)}
        for i, item in enumerate(folded):
            params.update(_row(item.alert, item.times, now, i))
        for row in connection.execute(_upsert_sql(len(folded)), params):
            opened[row.fingerprint] = row.id
            if row.prev_seen is None:
                result.new.append(row.id)
                continue
            result.repeats += 1
            if row.status == AlertStatus.FIRING and is_reminder(row.prev_seen, now, dedup_window):
                result.reminders.append(row.id)  # the upsert already put it back to pending
    if segment.resolved:
        rows = _close(connection, segment.resolved, now)
        closed.extend(rows)
        result.resolved.extend(alert_id for _, alert_id in rows)
        result.unknown_resolved += len(segment.resolved) - len(rows)


_PER_ROW = ("fp", "source", "alertname", "severity", "host", "service", "summary", "labels", "annotations",
            "value", "generator_url", "starts_at", "count")


def _row(alert: AlertIn, times: int, now: datetime, i: int) -> dict[str, Any]:
    values = (alert.fingerprint, alert.source, alert.alertname, alert.severity.value, alert.host, alert.service,
              alert.summary, alert.labels, alert.annotations, alert.value, alert.generator_url,
              alert.starts_at or now, times)
    return {f"{name}{i}": value for name, value in zip(_PER_ROW, values, strict=True)}


@functools.lru_cache(maxsize=128)
def _upsert_sql(rows: int) -> TextClause:
    """INSERT ... ON CONFLICT (open_key) DO UPDATE for `rows` alerts; built once per size.

    Plain SQL that PostgreSQL and SQLite (3.35+) both accept. A repeat after a quiet gap
    longer than the dedup window (last_seen < :cutoff) is put back to pending: a reminder.
    """
    values = ", ".join(
        f"(:fp{i}, :fp{i}, :source{i}, :alertname{i}, :severity{i}, 'firing', :host{i}, :service{i}, :summary{i},"
        f" :labels{i}, :annotations{i}, :value{i}, :generator_url{i}, :starts_at{i}, :now, :now, NULL, :count{i},"
        f" 'pending', 0, 0, false, 0, '[]')"
        for i in range(rows)
    )
    reminder = "alerts.status = 'firing' AND alerts.last_seen < :cutoff"
    sql = (
        "INSERT INTO alerts (fingerprint, open_key, source, alertname, severity, status, host, service, summary,"
        " labels, annotations, value, generator_url, starts_at, created_at, last_seen, prev_seen, count,"
        " notify_state, notify_attempts, card_count, card_stale, escalation_step, escalation_log)"
        f" VALUES {values}"
        " ON CONFLICT (open_key) DO UPDATE SET count = alerts.count + excluded.count,"
        " prev_seen = alerts.last_seen, last_seen = excluded.last_seen, summary = excluded.summary,"
        " annotations = excluded.annotations, value = excluded.value,"
        f" notify_state = CASE WHEN {reminder} THEN 'pending' ELSE alerts.notify_state END,"
        f" notify_attempts = CASE WHEN {reminder} THEN 0 ELSE alerts.notify_attempts END"
        " RETURNING id, fingerprint, prev_seen, status"
    )
    columns = Alert.__table__.c
    typed = [bindparam("now", type_=columns.created_at.type), bindparam("cutoff", type_=columns.created_at.type)]
    for i in range(rows):
        typed += [bindparam(f"labels{i}", type_=columns.labels.type),
                  bindparam(f"annotations{i}", type_=columns.annotations.type),
                  bindparam(f"starts_at{i}", type_=columns.starts_at.type)]
    return text(sql).bindparams(*typed).columns(id=columns.id.type, fingerprint=columns.fingerprint.type,
                                                prev_seen=columns.prev_seen.type, status=columns.status.type)


def _close(connection: Connection, resolved: dict[str, AlertIn], now: datetime) -> list[tuple[str, int]]:
    ends = {fp: (alert.ends_at or now) for fp, alert in resolved.items()}
    # Typed literals, so the CASE values are stored through UTCDateTime like any other timestamp.
    typed = {fp: literal(value, Alert.__table__.c.ends_at.type) for fp, value in ends.items()}
    ends_at = case(typed, value=Alert.open_key) if len(set(ends.values())) > 1 else next(iter(ends.values()))
    stmt = (
        update(Alert)
        .where(Alert.open_key.in_(sorted(resolved)))
        .values(status=AlertStatus.RESOLVED.value, open_key=None, ends_at=ends_at, resolved_at=now,
                resolved_by=None, next_escalation_at=None, card_stale=True, last_seen=now)
        .returning(Alert.fingerprint, Alert.id)
    )
    return [(row.fingerprint, row.id) for row in connection.execute(stmt)]
