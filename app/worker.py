"""The background side, assembled: every domain's jobs, periodic jobs and hand-offs, and the worker process.

Domains declare their work in their own `tasks.py` (`@job` functions, a `PERIODIC`
tuple, `handoff()` lists); this module, above the domains, is the one place that
collects them. Importing it registers every job, so any process can run any job
by name (RQ workers, the in-process executor of embedded mode).
"""
from __future__ import annotations

import logging

from flask import Flask

from app import retention
from app.alerts import tasks as alert_tasks
from app.automation import tasks as automation_tasks
from app.exports import tasks as export_tasks
from app.inbox import tasks as inbox_tasks
from app.incidents import tasks as incident_tasks
from app.infra import handoff, queue
from app.infra.scheduler import Periodic, Scheduler
from app.monitoring import tasks as monitoring_tasks
from app.outbox import tasks as outbox_tasks
from app.reports import tasks as report_tasks

logger = logging.getLogger(__name__)

JOB_MODULES = (inbox_tasks, outbox_tasks, automation_tasks, alert_tasks, monitoring_tasks, report_tasks,
               incident_tasks, export_tasks, retention)

SCHEDULE: tuple[Periodic, ...] = tuple(entry for module in JOB_MODULES for entry in getattr(module, "PERIODIC", ()))


def run(app: Flask, *, burst: bool = False, with_scheduler: bool = True,
        queues: tuple[str, ...] = queue.QUEUES) -> None:
    """The worker process: the periodic scheduler thread plus an RQ worker taking jobs from queues.

    It first moves whatever waits on the hand-off lists into the queues (ids pushed while
    no drain job could be queued).
    """
    if app.extensions["openclaw.redis"] is None:
        raise RuntimeError("the worker needs REDIS_URL; embedded mode runs jobs inside scripts/run.sh")
    scheduler = Scheduler(app, SCHEDULE) if with_scheduler else None
    if scheduler:
        scheduler.start()
    try:
        handoff.drain_all(app)
    except Exception:  # the drain jobs and sweeps still move them once Redis answers
        logger.warning("could not drain the hand-off lists at start", exc_info=True)
    try:
        queue.work(app, burst=burst, queues=queues)
    finally:
        if scheduler:
            scheduler.stop()


def start_in_process_scheduler(app: Flask) -> None:
    """Embedded mode (called from gunicorn's post_worker_init): run periodic jobs in this process."""
    if app.config.get("REDIS_URL"):
        return
    Scheduler(app, SCHEDULE).start()
