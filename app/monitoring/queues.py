"""Queue depth and oldest waiting job per queue, from RQ (Redis) or the in-process pool."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from app.infra.queue import QUEUES, InProcessBackend, RQBackend, get_backend

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueState:
    name: str
    depth: int
    oldest_age: float  # seconds; 0 when empty
    workers: int
    failed: int


def queue_states(now: datetime | None = None) -> list[QueueState]:
    """One QueueState per queue; raises when Redis cannot be reached."""
    backend = get_backend()
    now = now or datetime.now(UTC)
    if isinstance(backend, RQBackend):
        return [_rq_state(backend, name, now) for name in QUEUES]
    if isinstance(backend, InProcessBackend):
        waiting = backend.pool._work_queue.qsize()  # noqa: SLF001 - the pool exposes no public size
        return [QueueState("default", waiting, 0.0, backend.pool._max_workers, 0)]  # noqa: SLF001
    return []


def _rq_state(backend: RQBackend, name: str, now: datetime) -> QueueState:
    from rq import Worker
    from rq.job import Job

    queue = backend.queues[name]
    depth = queue.count
    oldest = 0.0
    if depth:
        first = queue.get_job_ids(0, 1)
        job = Job.fetch(first[0], connection=queue.connection) if first else None
        if job is not None and job.enqueued_at is not None:
            enqueued = job.enqueued_at if job.enqueued_at.tzinfo else job.enqueued_at.replace(tzinfo=UTC)
            oldest = max(0.0, (now - enqueued).total_seconds())
    workers = Worker.count(queue=queue)
    return QueueState(name, depth, oldest, workers, queue.failed_job_registry.count)
