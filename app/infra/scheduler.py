"""The small scheduler that queues periodic jobs.

Domains declare their periodic jobs in their `tasks.py` (a `PERIODIC` tuple);
app/worker.py collects them. Each entry is enqueued at most once per interval
across all workers: a Redis key (SET NX EX) decides which worker's tick wins.
Jobs themselves stay idempotent.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from app.infra import queue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    interval: Callable[[Flask], int]
    job: Callable[..., Any]  # a registered @job, called with no arguments


class Scheduler:
    """A daemon thread that enqueues every due periodic job."""

    def __init__(self, app: Flask, schedule: tuple[Periodic, ...], tick: float = 1.0) -> None:
        self.app = app
        self.schedule = schedule
        self.tick = tick
        self._stop = threading.Event()
        self._next_run: dict[str, float] = {}
        self._thread = threading.Thread(target=self._loop, name="openclaw-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()
        logger.info("scheduler started", extra={"jobs": [p.name for p in self.schedule]})

    def stop(self) -> None:
        self._stop.set()

    def run_due(self, now: float | None = None) -> list[str]:
        """Enqueue the entries that are due; returns their names."""
        now = time.time() if now is None else now
        started = []
        with self.app.app_context():
            for entry in self.schedule:
                interval = entry.interval(self.app)
                if now < self._next_run.get(entry.name, 0):
                    continue
                self._next_run[entry.name] = now + interval
                if not self._claim(entry.name, interval):
                    continue
                try:
                    queue.enqueue(entry.job)
                    started.append(entry.name)
                except Exception:
                    logger.exception("could not enqueue periodic job", extra={"job": entry.name})
        return started

    def _claim(self, name: str, interval: int) -> bool:
        redis = self.app.extensions.get("openclaw.redis")
        if redis is None:
            return True
        try:
            return bool(redis.set(f"openclaw:schedule:{name}", "1", nx=True, ex=max(1, interval)))
        except Exception:
            logger.warning("scheduler cannot reach Redis", extra={"job": name})
            return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:
                logger.exception("scheduler tick failed")
            self._stop.wait(self.tick)
