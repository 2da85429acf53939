"""Hand a recorded event to the workers as cheaply as possible.

The webhook must answer within 3 s and typically in a few milliseconds, so with
Redis it only pushes the event's id onto a list (one RPUSH); a pump thread in
each worker moves ids from that list into the RQ queue. Without Redis the event
goes straight to the in-process executor. Anything lost between the two steps is
still `received` in the database, and the sweep queues it again.
"""
from __future__ import annotations

import logging
import threading

from flask import Flask

from app.infra.queue import enqueue
from app.infra.redis import get_redis

logger = logging.getLogger(__name__)

INBOX_KEY = "openclaw:inbox"


def hand_off(event_pk: int) -> None:
    """Make event_pk reach a worker; raises when the queue is unreachable (the sweep covers it)."""
    from app.inbox.tasks import process_event

    redis = get_redis()
    if redis is None:
        enqueue(process_event, event_pk)
    else:
        redis.rpush(INBOX_KEY, event_pk)


def pump_once(app: Flask, timeout: float = 1.0) -> int | None:
    """Move one id from the inbox list into the job queue; None when the list stayed empty."""
    from app.inbox.tasks import process_event

    redis = app.extensions["openclaw.redis"]
    item = redis.blpop([INBOX_KEY], timeout=timeout)
    if item is None:
        return None
    event_pk = int(item[1])
    with app.app_context():
        enqueue(process_event, event_pk)
    return event_pk


def drain_inbox(app: Flask) -> int:
    """Move every id waiting in the inbox list into the job queue now (burst workers, tests)."""
    from app.inbox.tasks import process_event

    redis = app.extensions["openclaw.redis"]
    moved = 0
    with app.app_context():
        while (raw := redis.lpop(INBOX_KEY)) is not None:
            enqueue(process_event, int(raw))
            moved += 1
    return moved


class InboxPump:
    """A daemon thread in the worker process running pump_once until stopped."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="openclaw-inbox-pump", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                pump_once(self.app)
            except Exception:
                logger.exception("inbox pump failed; retrying in 1 s")
                self._stop.wait(1.0)
