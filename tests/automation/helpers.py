"""Small helpers shared by the automation tests."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

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
