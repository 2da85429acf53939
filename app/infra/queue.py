"""Background jobs: RQ over Redis when REDIS_URL is set, an in-process thread pool otherwise.

Jobs are plain functions registered with @job and enqueued by name with ids as
arguments; they reload their state and must be safe to run twice.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, current_app

from app.infra import lanes, metrics
from app.infra.db import db

logger = logging.getLogger(__name__)

EXTENSION = "openclaw.queue"
QUEUES = ("default", "automation")


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[..., Any]
    queue: str
    timeout: int
    lane: lanes.Lane = lanes.Lane.INTERACTIVE


_registry: dict[str, JobSpec] = {}


def job(
    queue: str = "default", timeout: int = 300, lane: lanes.Lane = lanes.Lane.INTERACTIVE
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as a background job (callable directly too).

    `lane=Lane.BULK` marks work nobody is waiting on: it runs in the bulk lane, which
    leaves part of the outbound limits to replies to people (see app/infra/lanes.py).
    """

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        name = f"{func.__module__}.{func.__qualname__}"
        _registry[name] = JobSpec(name, func, queue, timeout, lane)
        return func

    return register


def _spec_for(func: Callable[..., Any]) -> JobSpec:
    name = f"{func.__module__}.{func.__qualname__}"
    if name not in _registry:
        raise LookupError(f"{name} is not a registered @job")
    return _registry[name]


class Backend(Protocol):
    def enqueue(self, spec: JobSpec, args: tuple[Any, ...]) -> str: ...


def run_job(name: str, args: tuple[Any, ...]) -> Any:
    """Entry point RQ calls in the worker: run the job by name inside a fresh app context."""
    spec = _registry[name]  # the worker imported every job module at start (app/worker.py)
    app = _worker_app or current_app._get_current_object()  # type: ignore[attr-defined]
    with app.app_context(), lanes.lane(spec.lane):
        started, outcome = time.monotonic(), "failed"
        try:
            result = spec.func(*args)
            outcome = "ok"
            return result
        finally:
            metrics.observe_job(spec.name, spec.queue, started, outcome)
            db.session.remove()


class RQBackend:
    """Jobs go to Redis; any number of `flask --app app worker` processes run them."""

    def __init__(self, connection: Any) -> None:
        from rq import Queue

        self.queues = {name: Queue(name, connection=connection) for name in QUEUES}

    def enqueue(self, spec: JobSpec, args: tuple[Any, ...]) -> str:
        queue = self.queues.get(spec.queue, self.queues["default"])
        rq_job = queue.enqueue(run_job, spec.name, args, job_timeout=spec.timeout, result_ttl=600, failure_ttl=86400)
        return str(rq_job.id)


class InProcessBackend:
    """Embedded mode: a small thread pool in this process, each job in its own app context."""

    def __init__(self, app: Flask, workers: int = 4) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openclaw-job")
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._counter = 0

    def enqueue(self, spec: JobSpec, args: tuple[Any, ...]) -> str:
        with self._lock:
            self._counter += 1
            job_id = f"local-{self._counter}"
        future = self.pool.submit(self._run, spec, args, job_id)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return job_id

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _run(self, spec: JobSpec, args: tuple[Any, ...], job_id: str) -> Any:
        with self.app.app_context(), lanes.lane(spec.lane):
            started, outcome = time.monotonic(), "failed"
            try:
                result = spec.func(*args)
                outcome = "ok"
                return result
            except Exception:
                logger.exception("job failed", extra={"job": spec.name, "job_id": job_id})
                raise
            finally:
                metrics.observe_job(spec.name, spec.queue, started, outcome)
                db.session.remove()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no job is pending (the console and tests use this)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.01)
        return False


_worker_app: Flask | None = None


def enqueue(func: Callable[..., Any], *args: Any) -> str:
    """Queue func(*args) for the background; returns the job id. Raises if the queue is unreachable."""
    spec = _spec_for(func)
    backend: Backend = current_app.extensions[EXTENSION]
    job_id = backend.enqueue(spec, args)
    logger.debug("job queued", extra={"job": spec.name, "job_id": job_id})
    return job_id


def get_backend() -> Backend:
    backend: Backend = current_app.extensions[EXTENSION]
    return backend


def init_app(app: Flask) -> None:
    """Choose the backend from REDIS_URL."""
    from app.infra.redis import EXTENSION as REDIS_EXTENSION

    connection = app.extensions.get(REDIS_EXTENSION)
    app.extensions[EXTENSION] = RQBackend(connection) if connection is not None else InProcessBackend(app)


def work(app: Flask, *, burst: bool = False, queues: tuple[str, ...] = QUEUES) -> None:
    """Take jobs from queues in this process until stopped (app/worker.py assembles the whole worker)."""
    global _worker_app
    _worker_app = app
    serve_worker_metrics(int(app.config.get("WORKER_METRICS_PORT") or 0))
    _work_until_stopped(app, app.extensions["openclaw.redis"], burst=burst, queues=queues)


def serve_worker_metrics(port: int) -> None:
    """Serve this worker's /metrics on port (0: off) for Prometheus to scrape."""
    if not port:
        return
    from prometheus_client import start_http_server

    start_http_server(port, registry=metrics.registry())
    logger.info("worker metrics served", extra={"port": port})


def _work_until_stopped(app: Flask, connection: Any, *, burst: bool, queues: tuple[str, ...]) -> None:
    """RQ's worker loop, started again when it ends without being asked to stop.

    RQ quits its loop when Redis goes away while a job runs (its bookkeeping after the job
    fails). The process then waits until Redis answers and starts a new loop, so a Redis
    restart does not need a supervisor to bring the worker back.
    """
    import redis as redis_lib
    from rq import SimpleWorker

    backend: RQBackend = app.extensions[EXTENSION]
    while True:
        # SimpleWorker runs jobs in this process: no fork, so the app, its pools and
        # SSH connections are reused across jobs.
        worker = SimpleWorker([backend.queues[name] for name in queues], connection=connection)
        try:
            worker.work(burst=burst, with_scheduler=False, logging_level=app.config.get("LOG_LEVEL", "INFO"))
        except redis_lib.RedisError:
            logger.warning("the worker lost Redis", exc_info=True)

        def stop_requested() -> bool:
            return getattr(worker, "_shutdown_requested_date", None) is not None

        if burst or stop_requested():
            return
        logger.warning("the worker loop ended without a stop request; starting it again once Redis answers")
        while not stop_requested():
            try:
                if connection.ping():
                    break
            except redis_lib.RedisError:
                pass
            time.sleep(1.0)
        if stop_requested():
            return
        time.sleep(1.0)
