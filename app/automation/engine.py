"""perform(execution_id): claim a queued execution, run its plan step by step, record and settle it.

Every state change is a conditional UPDATE, so a second worker, a rerun of the
job or a redelivered click finds nothing to do. A watcher thread writes a
heartbeat (the sweep marks executions without one as interrupted) and turns a
/cancel into a stop signal for the running commands.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select, update

from app.audit import service as audit
from app.automation import http_step, locks, plans, policy
from app.automation.argv import Command
from app.automation.http_step import HttpRequest
from app.automation.models import Execution, ExecutionHost, ExecutionStatus
from app.automation.plans import Plan, Step
from app.automation.redact import redact
from app.automation.settings import Runners, run_settings
from app.automation.sources import Query, Sources, run_query
from app.automation.transport import Outcome, RunResult, RunSettings, run_parallel, targets_of
from app.errors import AuditWriteFailed, BotError
from app.infra import metrics
from app.infra.db import db, utcnow
from app.inventory import get_inventory
from app.inventory.schema import Host

logger = logging.getLogger(__name__)

Progress = Callable[[Execution, Plan, int], None]
SYSTEM = "openclaw"


def worker_id() -> str:
    """host:pid of this process, recorded on the executions it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


def claim(execution_id: int) -> Execution | None:
    """Atomically move a queued execution to running; None when it is not queued (already run, cancelled...)."""
    now = utcnow()
    result = db.session.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.status == ExecutionStatus.QUEUED)
        .values(status=ExecutionStatus.RUNNING, started_at=now, heartbeat_at=now, worker=worker_id())
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    return db.session.get(Execution, execution_id, populate_existing=True)


class Watcher:
    """A thread that beats the heartbeat and sets `cancel` once the execution is no longer running."""

    def __init__(self, app: Flask, execution_id: int, cancel: threading.Event, *, poll: float = 0.5) -> None:
        self.app = app
        self.execution_id = execution_id
        self.cancel = cancel
        self.poll = poll
        self.beat_every = float(app.config["EXECUTION_HEARTBEAT"])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"openclaw-watch-{execution_id}", daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        last_beat = 0.0
        with self.app.app_context():
            try:
                while not self._stop.wait(self.poll):
                    status = db.session.execute(
                        select(Execution.status).where(Execution.id == self.execution_id)
                    ).scalar_one_or_none()
                    db.session.rollback()  # end the read transaction so the next poll sees new commits
                    if status != ExecutionStatus.RUNNING:
                        self.cancel.set()
                        return
                    now = utcnow()
                    if now.timestamp() - last_beat >= self.beat_every:
                        db.session.execute(
                            update(Execution)
                            .where(Execution.id == self.execution_id, Execution.status == ExecutionStatus.RUNNING)
                            .values(heartbeat_at=now)
                        )
                        db.session.commit()
                        last_beat = now.timestamp()
            except Exception:
                logger.exception("execution watcher failed", extra={"execution_id": self.execution_id})
            finally:
                db.session.remove()


def perform(execution_id: int, *, on_progress: Progress | None = None, stats: dict[str, float] | None = None) -> Execution:
    """Run execution_id if it is queued; otherwise return it untouched. Never raises for host problems."""
    execution = claim(execution_id)
    if execution is None:
        existing = db.session.get(Execution, execution_id, populate_existing=True)
        logger.info("execution not queued; nothing to do",
                    extra={"execution_id": execution_id, "status": existing.status if existing else None})
        if existing is None:
            raise LookupError(f"execution {execution_id} not found")
        return existing
    log = {"execution_id": execution.id, "kind": execution.kind, "target": execution.target}
    try:
        policy.check_not_paused(execution.kind)
        plan = plans.build(execution.kind, execution.args, get_inventory(), Sources.of(current_app.config))
        if plan.digest() != execution.plan_digest:
            raise BotError("plan changed", user_message="Refused: the inventory changed since this was requested; "
                                                        "request it again.")
    except BotError as exc:
        return finish(execution, ExecutionStatus.FAILED, exc.user_message)
    lock_owner = {"execution_id": execution.id, "by": execution.requested_by, "target": execution.target,
                  "version": execution.args.get("version"), "since": utcnow().isoformat()}
    if plan.lock:
        held = locks.acquire(plan.lock, lock_owner, int(current_app.config["DEPLOY_TIMEOUT"]))
        if held is not None:
            return finish(execution, ExecutionStatus.FAILED, f"Refused: {describe_holder(held)}")
    try:
        try:
            audit.record(actor=SYSTEM, action="execution.start", target=execution.target, chat_id=execution.chat_id,
                         details={"execution_id": execution.id, "hosts": list(plan.hosts), "steps": plan.describe(),
                                  "worker": execution.worker})
        except AuditWriteFailed as exc:
            return finish(execution, ExecutionStatus.FAILED, exc.user_message)
        logger.info("execution started", extra=log)
        ok = _run_steps(execution, plan, on_progress, stats)
    finally:
        if plan.lock:
            locks.release(plan.lock, execution.id)
    status = ExecutionStatus.SUCCEEDED if ok else ExecutionStatus.FAILED
    return finish(execution, status, summarize(execution, plan, ok))


def _run_steps(execution: Execution, plan: Plan, on_progress: Progress | None, stats: dict[str, float] | None) -> bool:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = run_settings(app.config)
    runners = Runners.of(settings)
    hosts = get_inventory().hosts
    cancel = threading.Event()
    ok = True
    with Watcher(app, execution.id, cancel):
        for index, step in enumerate(plan.steps):
            if cancel.is_set():
                return False
            started = utcnow()
            if isinstance(step.command, Query):
                results = _run_query_step(execution, index, step, hosts, app.config, runners, settings, cancel, started)
            elif isinstance(step.command, HttpRequest):
                results = [http_step.send(step.command, output_cap=settings.output_cap)]
                _record(execution, index, step.name, step.command.shell_line(), results, started)
            elif step.retries or step.deadline is not None:
                results = _run_check_step(step, hosts, runners, settings, cancel)
                _record(execution, index, step.name, step.command.shell_line(), results, started)
            else:
                jobs = [(target, step.command) for target in targets_of(hosts, step.hosts)]
                results = run_parallel(runners.picker, jobs, parallel=settings.parallel, cancel=cancel)
                _record(execution, index, step.name, step.command.shell_line(), results, started)
            if stats is not None:
                stats["remote_seconds"] = stats.get("remote_seconds", 0.0) + max(
                    (r.remote_seconds for r in results), default=0.0)
                stats["connect_seconds"] = stats.get("connect_seconds", 0.0) + max(
                    (r.connect_seconds for r in results), default=0.0)
            step_ok = all(result.ok for result in results)
            ok = ok and step_ok
            if on_progress is not None:
                _safe_progress(on_progress, execution, plan, index)
            if not step_ok and plan.stop_on_failure:
                return False
    return ok and not cancel.is_set()


def _run_check_step(step: Step, hosts: Mapping[str, Host], runners: Runners, settings: RunSettings,
                    cancel: threading.Event) -> list[RunResult]:
    """Run the check on its hosts; again on those that failed, every interval, until all pass or time is up.

    Each attempt's command timeout is cut to what is left of the step's deadline. The
    last result per host is kept; a failure says how many attempts it took.
    """
    assert isinstance(step.command, Command)
    deadline = time.monotonic() + (step.deadline or settings.command_timeout)
    latest = {target.name: target for target in targets_of(hosts, step.hosts)}
    results: dict[str, RunResult] = {}
    attempts = 0
    pending = list(latest)
    while pending:
        attempts += 1
        left = deadline - time.monotonic()
        jobs = [(latest[name], step.command) for name in pending]
        timeout = max(1.0, min(settings.command_timeout, left))
        for result in run_parallel(runners.picker, jobs, parallel=settings.parallel, timeout=timeout, cancel=cancel):
            results[result.host] = result
        pending = [name for name in pending if not results[name].ok]
        if not pending or attempts > step.retries or cancel.is_set():
            break
        if deadline - time.monotonic() < step.interval or cancel.wait(step.interval):
            break
    for name in pending:
        result = results[name]
        tried = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        if result.error:
            result.error = f"{result.error} ({tried})"
        else:
            result.error = f"exit {result.exit_code}, {tried}" if result.exit_code is not None else tried
    return [results[name] for name in latest]


def _run_query_step(
    execution: Execution, index: int, step: Step, hosts: Mapping[str, Host], config: Mapping[str, Any],
    runners: Runners, settings: RunSettings, cancel: threading.Event, started: datetime,
) -> list[RunResult]:
    """A source answers the step; the hosts it could not answer for get the step's fallback command.

    When the source itself failed, one row on host '(prometheus)', step 'source', keeps the note
    (the /status card shows it); it does not count as a host result.
    """
    assert isinstance(step.command, Query)
    answer = run_query(step.command, hosts, step.hosts, config)
    results = list(answer.results)
    if results:
        _record(execution, index, step.name, step.command.shell_line(), results, started)
    if answer.note:
        _record(execution, index, "source", step.command.shell_line(),
                [RunResult(f"({step.command.source})", Outcome.UNREACHABLE, error=answer.note)], started)
    if answer.fallback_hosts and step.fallback is not None and not cancel.is_set():
        jobs = [(target, step.fallback) for target in targets_of(hosts, answer.fallback_hosts)]
        fallback = run_parallel(runners.picker, jobs, parallel=settings.parallel, cancel=cancel)
        _record(execution, index, step.fallback_name or step.name, step.fallback.shell_line(), fallback, started)
        results += fallback
    return results


def _record(execution: Execution, index: int, name: str, line: str, results: list[RunResult], started: datetime) -> None:
    finished = utcnow()
    command = redact(line)
    for result in results:
        db.session.add(ExecutionHost(
            execution_id=execution.id, host=result.host, step=index, step_name=name, command=command,
            outcome=result.outcome.value, exit_code=result.exit_code, output=result.output,
            error=redact(result.error) if result.error else None, started_at=started, finished_at=finished,
        ))
    db.session.commit()


def _safe_progress(on_progress: Progress, execution: Execution, plan: Plan, index: int) -> None:
    try:
        on_progress(execution, plan, index)
    except Exception:
        logger.exception("progress update failed", extra={"execution_id": execution.id})


def summarize(execution: Execution, plan: Plan, ok: bool) -> str:
    """One line: what happened, and where the first failure was."""
    rows = db.session.execute(
        select(ExecutionHost).where(ExecutionHost.execution_id == execution.id).order_by(ExecutionHost.id)
    ).scalars().all()
    failed = [row for row in rows if row.outcome != "ok" and row.step_name != "source"]
    if ok:
        return f"{plan.target}: {len(plan.steps)} step(s) ok on {len(plan.hosts)} host(s)"
    if not failed:
        return f"{plan.target}: stopped"
    first = failed[0]
    code = f"exit {first.exit_code}" if first.exit_code is not None else (first.error or first.outcome)
    return f"{plan.target}: step {first.step_name!r} {first.outcome} on {first.host} ({code})"


def describe_holder(holder: dict[str, Any]) -> str:
    """'Bob is deploying shop-api prod (version 1.2, #12) since ...' from lock owner info."""
    from app.users.service import display_name

    who = display_name(str(holder.get("by"))) if holder.get("by") else "someone"
    version = f"version {holder['version']}, " if holder.get("version") else ""
    target = str(holder.get("target") or "this").removeprefix("deploy ")
    return f"{who} is deploying {target} ({version}#{holder.get('execution_id')}) since {holder.get('since', '?')}"


def finish(execution: Execution, status: ExecutionStatus, summary: str) -> Execution:
    """Settle a running execution (a /cancel that got there first wins) and audit the outcome."""
    now = utcnow()
    started = execution.started_at or now
    duration_ms = int((now - started).total_seconds() * 1000)
    result = db.session.execute(
        update(Execution).where(Execution.id == execution.id, Execution.status == ExecutionStatus.RUNNING)
        .values(status=status, finished_at=now, duration_ms=duration_ms, summary=redact(summary))
    )
    if result.rowcount != 1:
        db.session.execute(
            update(Execution).where(Execution.id == execution.id, Execution.finished_at.is_(None))
            .values(finished_at=now, duration_ms=duration_ms, summary=redact(f"{summary} (cancelled)"))
        )
    db.session.commit()
    execution = db.session.get(Execution, execution.id, populate_existing=True)
    hosts = [{"host": h.host, "step": h.step_name, "outcome": h.outcome, "exit_code": h.exit_code}
             for h in execution.hosts]
    try:
        audit.record(
            actor=SYSTEM, action="execution.finish", target=execution.target, chat_id=execution.chat_id,
            details={"execution_id": execution.id, "status": execution.status, "summary": execution.summary,
                     "duration_ms": duration_ms, "hosts": hosts[:50]},
        )
    except AuditWriteFailed:
        # The outcome is already in the executions table; nothing left to stop.
        logger.error("could not audit the outcome", extra={"execution_id": execution.id})
    logger.info("execution finished", extra={"execution_id": execution.id, "status": str(execution.status)})
    metrics.EXECUTIONS.labels(kind=str(execution.kind), status=str(execution.status)).inc()
    metrics.EXECUTION_DURATION.labels(kind=str(execution.kind)).observe(duration_ms / 1000)
    return execution
