"""Periodic jobs and the small scheduler that queues them.

Each entry is enqueued at most once per interval across all workers: a Redis key
(SET NX EX) decides which worker's tick wins. Jobs themselves stay idempotent.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    interval: Callable[[Flask], int]
    job: Callable[[], Callable[..., Any]]  # resolved lazily to avoid import cycles


def _sweep_job() -> Callable[..., Any]:
    from app.inbox.tasks import sweep_events

    return sweep_events


def _sweep_outbox_job() -> Callable[..., Any]:
    from app.outbox.tasks import sweep_outbox

    return sweep_outbox


def _sweep_executions_job() -> Callable[..., Any]:
    from app.automation.tasks import sweep_executions

    return sweep_executions


def _alerts_tick_job() -> Callable[..., Any]:
    from app.alerts.tasks import tick_alerts

    return tick_alerts


def _selfmon_job() -> Callable[..., Any]:
    from app.monitoring.tasks import check_self

    return check_self


def _response_gauges_job() -> Callable[..., Any]:
    from app.reports.tasks import update_response_gauges

    return update_response_gauges


def _weekly_report_job() -> Callable[..., Any]:
    from app.reports.tasks import post_weekly_reports

    return post_weekly_reports


def _postmortem_job() -> Callable[..., Any]:
    from app.incidents.tasks import draft_postmortems

    return draft_postmortems


def _bitable_job() -> Callable[..., Any]:
    from app.exports.tasks import export_to_bitable

    return export_to_bitable


def _retention_job() -> Callable[..., Any]:
    from app.infra.retention import prune_old_data

    return prune_old_data


SCHEDULE: tuple[Periodic, ...] = (
    Periodic("sweep_events", lambda app: int(app.config["EVENT_SWEEP_INTERVAL"]), _sweep_job),
    Periodic("sweep_outbox", lambda app: int(app.config["EVENT_SWEEP_INTERVAL"]), _sweep_outbox_job),
    Periodic("sweep_executions", lambda app: int(app.config["EXECUTION_SWEEP_INTERVAL"]), _sweep_executions_job),
    Periodic("alerts_tick", lambda app: int(app.config["ALERT_TICK_INTERVAL"]), _alerts_tick_job),
    Periodic("selfmon", lambda app: int(app.config["SELFMON_INTERVAL"]), _selfmon_job),
    Periodic("response_gauges", lambda app: 60, _response_gauges_job),
    Periodic("weekly_report", lambda app: 300, _weekly_report_job),
    Periodic("postmortems", lambda app: 30, _postmortem_job),
    Periodic("bitable_export", lambda app: 60, _bitable_job),
    Periodic("retention", lambda app: int(app.config["RETENTION_INTERVAL"]), _retention_job),
)


class Scheduler:
    """A daemon thread that enqueues every due periodic job."""

    def __init__(self, app: Flask, schedule: tuple[Periodic, ...] = SCHEDULE, tick: float = 1.0) -> None:
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
        from app.infra import queue

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
                    queue.enqueue(entry.job())
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
