"""What the admin System page shows: workers, queues, lag, dead events, recent errors."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from app.ai.models import CallStatus, LLMCall
from app.audit import service as audit
from app.errors import UsageError
from app.inbox.models import EventStatus, InboundEvent
from app.infra import metrics
from app.infra.db import db, utcnow
from app.infra.queue import RQBackend, enqueue, get_backend

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    queues: str
    state: str
    current_job: str
    last_heartbeat: datetime | None


@dataclass(frozen=True)
class Lag:
    events: int
    p50: float | None
    p95: float | None
    worst: float | None


@dataclass(frozen=True)
class RecentError:
    at: datetime
    source: str
    what: str
    error: str


def workers() -> list[WorkerInfo]:
    """RQ workers registered in Redis (none in embedded mode: jobs run inside the web process)."""
    backend = get_backend()
    if not isinstance(backend, RQBackend):
        return []
    from rq import Worker

    connection = backend.queues["default"].connection
    found = []
    for worker in Worker.all(connection=connection):
        job = worker.get_current_job()
        found.append(WorkerInfo(worker.name, ", ".join(worker.queue_names()), str(worker.get_state()),
                                job.func_name if job else "", worker.last_heartbeat))
    return sorted(found, key=lambda w: w.name)


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def reply_lag(since: timedelta = timedelta(hours=1), limit: int = 2000) -> Lag:
    """Seconds from receipt to processed, over events settled in the last hour."""
    now = utcnow()
    rows = db.session.execute(
        select(InboundEvent.received_at, InboundEvent.processed_at)
        .where(InboundEvent.status == EventStatus.DONE, InboundEvent.processed_at >= now - since)
        .order_by(InboundEvent.processed_at.desc()).limit(limit)
    ).all()
    lags = sorted((_aware(done) - _aware(got)).total_seconds() for got, done in rows)
    if not lags:
        return Lag(0, None, None, None)

    def rank(q: float) -> float:
        return round(lags[min(len(lags) - 1, max(0, int(q * len(lags) + 0.999999) - 1))], 3)

    return Lag(len(lags), rank(0.5), rank(0.95), round(lags[-1], 3))


def dead_events(limit: int = 50) -> list[InboundEvent]:
    return list(db.session.scalars(
        select(InboundEvent).where(InboundEvent.status == EventStatus.DEAD)
        .order_by(InboundEvent.updated_at.desc()).limit(limit)
    ))


def requeue_dead_event(event_pk: int, *, actor: str) -> None:
    """Put a dead event back to received with fresh attempts, audit it, and queue it."""
    from app.inbox.tasks import process_event

    changed = db.session.execute(
        update(InboundEvent).where(InboundEvent.id == event_pk, InboundEvent.status == EventStatus.DEAD)
        .values(status=EventStatus.RECEIVED, attempts=0, updated_at=utcnow())
    ).rowcount
    db.session.commit()
    if not changed:
        raise UsageError(f"event {event_pk} is not dead", user_message=f"Event #{event_pk} is not a dead event.")
    row = db.session.get(InboundEvent, event_pk)
    audit.record(actor=actor, action="event.requeue", target=f"event:{event_pk}",
                 details={"event_id": row.event_id if row else None, "last_error": (row.last_error or "")[:500]
                          if row else None})
    metrics.EVENTS_REQUEUED.inc()
    try:
        enqueue(process_event, event_pk)
    except Exception as exc:  # the sweep queues received events later
        logger.warning("requeued event not queued now; the sweep will", extra={"event_pk": event_pk,
                                                                              "error": type(exc).__name__})


def recent_errors(limit: int = 20) -> list[RecentError]:
    """The latest failed events and model calls, newest first."""
    events = db.session.execute(
        select(InboundEvent.updated_at, InboundEvent.event_type, InboundEvent.last_error)
        .where(InboundEvent.status.in_([EventStatus.FAILED, EventStatus.DEAD]))
        .order_by(InboundEvent.updated_at.desc()).limit(limit)
    ).all()
    calls = db.session.execute(
        select(LLMCall.timestamp, LLMCall.model, LLMCall.error)
        .where(LLMCall.status == CallStatus.ERROR).order_by(LLMCall.timestamp.desc()).limit(limit)
    ).all()
    found = [RecentError(_aware(at), "event", kind, error or "") for at, kind, error in events]
    found += [RecentError(_aware(at), "model", model, error or "") for at, model, error in calls]
    return sorted(found, key=lambda e: e.at, reverse=True)[:limit]


def error_counts() -> list[tuple[str, str, float]]:
    """openclaw_errors_total as this host's processes counted it: (component, kind, count), largest first."""
    counts: dict[tuple[str, str], float] = {}
    for family in metrics.registry().collect():
        if family.name != "openclaw_errors":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = (sample.labels.get("component", ""), sample.labels.get("kind", ""))
                counts[key] = counts.get(key, 0) + sample.value
    return sorted(((c, k, v) for (c, k), v in counts.items() if v), key=lambda row: -row[2])


def snapshot() -> dict[str, Any]:
    from app.monitoring.queues import queue_states
    from app.monitoring.reachability import everything

    try:
        queues, queue_error = queue_states(), None
    except Exception as exc:  # noqa: BLE001 - Redis down is shown, not raised
        queues, queue_error = [], f"{type(exc).__name__}: {exc}"
    try:
        worker_list = workers()
    except Exception:  # noqa: BLE001
        worker_list = []
    return {"queues": queues, "queue_error": queue_error, "workers": worker_list, "lag": reply_lag(),
            "dead": dead_events(), "reach": everything(), "errors": recent_errors(), "counts": error_counts()}
