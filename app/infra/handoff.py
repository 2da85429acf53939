"""Hand ids from a request to the workers in one Redis round trip.

A request (a webhook, the console, a chat command) must answer fast, so with
Redis it only pushes ids onto a list and, when no drain is pending, queues one
drain job; the drain job moves the ids into the domain's own job in batches, so
a storm of requests costs a few jobs, not one per request. Without Redis the ids
go straight to the in-process executor. Ids lost between the steps (a worker
killed mid-drain, a queue that was down) are still recorded in the database, and
each domain's sweep or tick queues them again.

Domains declare their hand-offs in their `tasks.py` with `handoff()`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from app.infra.queue import enqueue, job
from app.infra.redis import get_redis

DRAIN_FLAG_TTL = 30  # seconds: a drain job that was never queued is queued again by a push after this


class Handoff:
    """A Redis list of ids for one job: `push` from requests, `drain` in a worker.

    `batch=None` queues job(id) per id; a number queues job(ids) with up to that many ids.
    """

    def __init__(self, key: str, job: Callable[..., Any], batch: int | None = None) -> None:
        self.key = key
        self.flag = f"{key}:drain-pending"
        self.job = job
        self.batch = batch

    def push(self, *ids: int) -> None:
        """Make ids reach the job; raises when the queue is unreachable (the caller's sweep covers it)."""
        if not ids:
            return
        redis = get_redis()
        if redis is None:
            self.deliver(list(ids))
            return
        pipe = redis.pipeline(transaction=False)
        pipe.rpush(self.key, *ids).set(self.flag, 1, nx=True, ex=DRAIN_FLAG_TTL)
        if pipe.execute()[1]:
            enqueue(drain, self.key)

    def deliver(self, ids: list[int]) -> None:
        """Queue the job for ids now."""
        if self.batch is None:
            for one in ids:
                enqueue(self.job, one)
            return
        for start in range(0, len(ids), self.batch):
            enqueue(self.job, ids[start:start + self.batch])

    def take(self, limit: int = 500) -> list[int]:
        """Remove and return up to limit waiting ids (none without Redis)."""
        redis = get_redis()
        if redis is None:
            return []
        pipe = redis.pipeline(transaction=True)
        pipe.lrange(self.key, 0, limit - 1).ltrim(self.key, limit, -1)
        ids, _ = pipe.execute()
        return [int(i) for i in ids]

    def drain(self) -> int:
        """Queue the job for every waiting id; the flag is cleared first so no later push is missed."""
        redis = get_redis()
        if redis is not None:
            redis.delete(self.flag)  # a push after this sets it again and queues another drain
        moved = 0
        while ids := self.take():
            self.deliver(ids)
            moved += len(ids)
        return moved


_handoffs: dict[str, Handoff] = {}


def handoff(key: str, job: Callable[..., Any], batch: int | None = None) -> Handoff:
    """Declare the hand-off of ids on the Redis list `key` to `job` (see Handoff)."""
    declared = Handoff(key, job, batch)
    _handoffs[key] = declared
    return declared


@job("default", timeout=600)
def drain(key: str) -> int:
    """The drain job a push queues: move the ids waiting on one list into their job."""
    return _handoffs[key].drain()


def drain_all(app: Flask) -> int:
    """Move every waiting id of every hand-off into its job now (burst workers, tests)."""
    with app.app_context():
        return sum(declared.drain() for declared in _handoffs.values())
