"""Small helpers shared by the automation tests."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask

from app.automation import service
from app.automation.models import Execution, ExecutionStatus
from app.infra.db import db


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll until predicate() is true; AssertionError naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def status_of(execution_id: int) -> ExecutionStatus:
    db.session.rollback()
    execution = service.get_execution(execution_id)
    assert execution is not None
    return execution.status


def latest_execution() -> Execution:
    db.session.rollback()
    execution = db.session.query(Execution).order_by(Execution.id.desc()).first()
    assert execution is not None
    return execution


def run_in_background(app: Flask, execution_id: int) -> threading.Thread:
    """Run execute_run(execution_id) in another thread with its own app context (a second worker)."""
    from app.automation.tasks import execute_run

    def work() -> None:
        with app.app_context():
            try:
                execute_run(execution_id)
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


@contextmanager
def jobs_lost(app: Flask) -> Iterator[None]:
    """Automation jobs queued inside the block are lost: Redis is emptied afterwards (a failover),
    or, in embedded mode, the in-process executor drops them (the process was restarted)."""
    from app.infra.queue import EXTENSION, InProcessBackend

    backend = app.extensions[EXTENSION]
    if not isinstance(backend, InProcessBackend):
        yield
        app.extensions["openclaw.redis"].flushdb()
        return
    enqueue = backend.enqueue

    def drop_automation(spec: Any, args: tuple[Any, ...]) -> str:
        return "lost" if spec.queue == "automation" else enqueue(spec, args)

    backend.enqueue = drop_automation  # type: ignore[method-assign]
    try:
        yield
    finally:
        del backend.enqueue
