"""The one way in: request_run, approve, reject, cancel, the sweeps and the kill switch.

Each function checks policy, changes state with a conditional UPDATE, commits,
and writes the audit record; if the audit record cannot be written the change
is undone (or, for a request, the execution is marked failed) and the caller
gets AuditWriteFailed, so nothing runs unaudited.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.audit import service as audit
from app.automation import engine, locks, plans, policy
from app.automation.errors import DeployLocked, ExecutionNotFound, InvalidTransition
from app.automation.models import Execution, ExecutionKind, ExecutionStatus
from app.automation.plans import Plan
from app.automation.sources import Sources
from app.errors import AuditWriteFailed, BotError
from app.infra.db import db, utcnow
from app.inventory import get_inventory
from app.inventory.schema import Role

logger = logging.getLogger(__name__)

SYSTEM = engine.SYSTEM


def get_execution(execution_id: int) -> Execution | None:
    """The execution, read fresh, or None."""
    return db.session.get(Execution, execution_id, populate_existing=True)


def get_execution_or_raise(execution_id: int) -> Execution:
    """The execution, read fresh; ExecutionNotFound otherwise."""
    execution = get_execution(execution_id)
    if execution is None:
        raise ExecutionNotFound(f"execution {execution_id} not found", user_message=f"No execution #{execution_id}.")
    return execution


def _refuse(actor: str, kind: ExecutionKind, args: dict[str, Any], chat_id: str | None, exc: BotError) -> None:
    try:
        audit.record(actor=actor, action="execution.refused", target=str(kind), chat_id=chat_id,
                     details={"kind": str(kind), "args": args, "reason": exc.user_message})
    except AuditWriteFailed:
        logger.error("could not audit a refusal", extra={"open_id": actor, "kind": str(kind)})


def request_run(
    *, kind: ExecutionKind | str, args: dict[str, Any], actor: str, role: Role, chat_id: str | None = None,
    inline: bool = False, request_key: str | None = None,
) -> Execution:
    """Check, validate, audit and record a request; then run it (inline), queue it, or await approval.

    request_key (the chat message id) is unique: asking again with it returns the execution it
    already made, whatever state that is in. When the job queue cannot be reached the execution
    stays queued (the sweep starts it later) and `queue_unreachable` is set on the result.
    """
    kind = ExecutionKind(kind)
    if request_key is not None:
        existing = _by_request_key(request_key)
        if existing is not None:
            return existing
    try:
        policy.check_not_paused(kind)
        plan = plans.build(kind, args, get_inventory(), Sources.of(current_app.config))
        policy.check_request(plan, role)
        if plan.lock:
            holder = locks.holder(plan.lock)
            if holder is not None:
                raise DeployLocked("deploy locked", user_message=f"Refused: {engine.describe_holder(holder)}.")
    except BotError as exc:
        _refuse(actor, kind, args, chat_id, exc)
        raise
    try:
        execution = _create(plan, actor=actor, chat_id=chat_id, request_key=request_key)
    except IntegrityError:
        db.session.rollback()  # a concurrent attempt with the same key won; its execution is the answer
        existing = _by_request_key(request_key) if request_key else None
        if existing is None:
            raise
        return existing
    if execution.status is ExecutionStatus.AWAITING_APPROVAL:
        return execution
    if inline:
        return engine.perform(execution.id)
    execution.queue_unreachable = not _enqueue(execution.id)
    return execution


def _by_request_key(request_key: str) -> Execution | None:
    return db.session.execute(
        select(Execution).where(Execution.request_key == request_key).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _create(plan: Plan, *, actor: str, chat_id: str | None, request_key: str | None = None) -> Execution:
    now = utcnow()
    status = ExecutionStatus.AWAITING_APPROVAL if plan.approval else ExecutionStatus.QUEUED
    execution = Execution(
        kind=plan.kind, target=plan.target, args=plan.args, plan_digest=plan.digest(), requested_by=actor,
        chat_id=chat_id, status=status, created_at=now, request_key=request_key,
        expires_at=now + timedelta(seconds=int(current_app.config["APPROVAL_TIMEOUT"])) if plan.approval
        else None,
    )
    db.session.add(execution)
    db.session.commit()
    try:
        audit.record(
            actor=actor, action="execution.request", target=plan.target, chat_id=chat_id,
            details={"execution_id": execution.id, "kind": str(plan.kind), "args": plan.args,
                     "hosts": list(plan.hosts), "steps": plan.describe(), "status": str(status)},
        )
    except AuditWriteFailed:
        db.session.execute(update(Execution).where(Execution.id == execution.id).values(
            status=ExecutionStatus.FAILED, finished_at=utcnow(), summary="audit log unavailable; not run"))
        db.session.commit()
        raise
    return execution


def _enqueue(execution_id: int) -> bool:
    """Queue the run; False when the queue is unreachable (it stays queued and the execution sweep starts it)."""
    from app.automation.tasks import execute_run
    from app.infra.queue import enqueue

    try:
        enqueue(execute_run, execution_id)
    except Exception as exc:  # noqa: BLE001 - committed and audited already: report the truth, do not undo
        logger.warning("could not queue an execution; the sweep will start it",
                       extra={"execution_id": execution_id, "error": type(exc).__name__})
        return False
    return True


def plan_of(execution: Execution) -> Plan:
    """The plan an execution stands for, rebuilt from its stored arguments."""
    return plans.build(execution.kind, execution.args, get_inventory(), Sources.of(current_app.config))


def _decide(
    execution_id: int, *, actor: str, role: Role, approve: bool, message_id: str | None,
) -> Execution:
    execution = get_execution_or_raise(execution_id)
    if execution.status is not ExecutionStatus.AWAITING_APPROVAL:
        by = f" by {execution.approver}" if execution.approver else ""
        raise InvalidTransition("not awaiting approval",
                                user_message=f"#{execution.id} is already {execution.status}{by}; nothing to decide.")
    policy.check_approver(execution, plan_of(execution), actor, role)
    if approve:
        policy.check_not_paused(execution.kind)
    now = utcnow()
    new_status = ExecutionStatus.QUEUED if approve else ExecutionStatus.REJECTED
    values: dict[str, Any] = {"status": new_status, "approver": actor, "decided_at": now}
    if message_id:
        values["card_message_id"] = message_id
    if not approve:
        values["finished_at"] = now
    result = db.session.execute(
        update(Execution).where(Execution.id == execution_id, Execution.status == ExecutionStatus.AWAITING_APPROVAL,
                                Execution.expires_at >= now).values(**values)
    )
    db.session.commit()
    if result.rowcount != 1:
        expire_approvals()
        current = get_execution_or_raise(execution_id)
        raise InvalidTransition("lost the race", user_message=f"#{execution_id} is already {current.status}.")
    action = "execution.approve" if approve else "execution.reject"
    try:
        audit.record(actor=actor, action=action, target=execution.target, chat_id=execution.chat_id,
                     details={"execution_id": execution_id, "requested_by": execution.requested_by})
    except AuditWriteFailed:
        db.session.execute(update(Execution).where(Execution.id == execution_id, Execution.status == new_status)
                           .values(status=ExecutionStatus.AWAITING_APPROVAL, approver=None, decided_at=None,
                                   finished_at=None))
        db.session.commit()
        raise
    queued = _enqueue(execution_id) if approve else True
    decided = get_execution_or_raise(execution_id)
    decided.queue_unreachable = not queued
    return decided


def approve(*, execution_id: int, approver: str, role: Role, message_id: str | None = None) -> Execution:
    """Approve a waiting request (not your own, not expired, only once) and queue it."""
    return _decide(execution_id, actor=approver, role=role, approve=True, message_id=message_id)


def reject(*, execution_id: int, approver: str, role: Role, message_id: str | None = None) -> Execution:
    """Reject a waiting request (the requester may withdraw with /cancel instead)."""
    return _decide(execution_id, actor=approver, role=role, approve=False, message_id=message_id)


def cancel(*, execution_id: int, actor: str) -> Execution:
    """Cancel a waiting, queued or running execution; a running one is stopped by its watcher."""
    execution = get_execution_or_raise(execution_id)
    now = utcnow()
    before = execution.status
    if before.finished:
        raise InvalidTransition("finished", user_message=f"#{execution_id} already {before}; nothing to cancel.")
    values: dict[str, Any] = {"status": ExecutionStatus.CANCELLED, "cancelled_by": actor}
    if before is not ExecutionStatus.RUNNING:
        values["finished_at"] = now
    result = db.session.execute(
        update(Execution).where(Execution.id == execution_id, Execution.status == before).values(**values)
    )
    db.session.commit()
    if result.rowcount != 1:
        current = get_execution_or_raise(execution_id)
        raise InvalidTransition("changed", user_message=f"#{execution_id} is now {current.status}; try again.")
    try:
        audit.record(actor=actor, action="execution.cancel", target=execution.target, chat_id=execution.chat_id,
                     details={"execution_id": execution_id, "was": str(before)})
    except AuditWriteFailed:
        logger.error("could not audit a cancel", extra={"execution_id": execution_id})
    return get_execution_or_raise(execution_id)


def expire_approvals() -> list[int]:
    """Mark waiting requests past their expiry as expired (each audited); returns their ids."""
    now = utcnow()
    ids = db.session.execute(
        select(Execution.id).where(Execution.status == ExecutionStatus.AWAITING_APPROVAL, Execution.expires_at < now)
    ).scalars().all()
    expired = []
    for execution_id in ids:
        result = db.session.execute(
            update(Execution).where(Execution.id == execution_id,
                                    Execution.status == ExecutionStatus.AWAITING_APPROVAL)
            .values(status=ExecutionStatus.EXPIRED, finished_at=now, summary="nobody approved in time")
        )
        db.session.commit()
        if result.rowcount == 1:
            expired.append(execution_id)
            _audit_system("execution.expire", execution_id)
    return expired


def mark_interrupted_stale() -> int:
    """Running executions whose worker stopped beating are marked interrupted (never re-run); returns how many."""
    stale_after = int(current_app.config["EXECUTION_STALE_AFTER"])
    now = utcnow()
    cutoff = now - timedelta(seconds=stale_after)
    rows = db.session.execute(
        select(Execution).where(Execution.status == ExecutionStatus.RUNNING, Execution.heartbeat_at < cutoff)
    ).scalars().all()
    count = 0
    for execution in rows:
        result = db.session.execute(
            update(Execution).where(Execution.id == execution.id, Execution.status == ExecutionStatus.RUNNING,
                                    Execution.heartbeat_at < cutoff)
            .values(status=ExecutionStatus.INTERRUPTED, finished_at=now,
                    summary=f"worker {execution.worker} stopped mid-run; not re-run. Check the hosts, then retry.")
        )
        db.session.commit()
        if result.rowcount != 1:
            continue
        count += 1
        plan_lock = f"deploy:{execution.args.get('app')}:{execution.args.get('env')}"
        if execution.kind == ExecutionKind.DEPLOY:
            locks.release(plan_lock, execution.id)
        _audit_system("execution.interrupted", execution.id, worker=execution.worker)
    return count


def requeue_stale_queued() -> list[int]:
    """Queue again the executions still `queued` after EXECUTION_STALE_AFTER (their job was lost).

    Harmless when the job was only slow to start: the engine claims an execution with an
    atomic queued → running update, so a second job finds nothing to do.
    """
    cutoff = utcnow() - timedelta(seconds=int(current_app.config["EXECUTION_STALE_AFTER"]))
    ids = db.session.execute(
        select(Execution.id).where(Execution.status == ExecutionStatus.QUEUED,
                                   func.coalesce(Execution.decided_at, Execution.created_at) < cutoff)
    ).scalars().all()
    for execution_id in ids:
        _enqueue(execution_id)
    return list(ids)


def _audit_system(action: str, execution_id: int, **details: Any) -> None:
    execution = get_execution_or_raise(execution_id)
    try:
        audit.record(actor=SYSTEM, action=action, target=execution.target, chat_id=execution.chat_id,
                     details={"execution_id": execution_id, **details})
    except AuditWriteFailed:
        logger.error("could not audit", extra={"execution_id": execution_id, "action": action})


def set_card_message(execution_id: int, message_id: str) -> None:
    """Remember which card shows this execution's progress."""
    db.session.execute(update(Execution).where(Execution.id == execution_id).values(card_message_id=message_id))
    db.session.commit()


def pause(*, actor: str, reason: str | None = None) -> None:
    """Turn the kill switch on: mutating actions are refused until resume()."""
    _switch(True, actor=actor, reason=reason)


def resume(*, actor: str) -> None:
    """Turn the kill switch off."""
    _switch(False, actor=actor, reason=None)


def _switch(paused: bool, *, actor: str, reason: str | None) -> None:
    previous = policy.pause_state()
    policy.set_paused(paused, actor=actor, reason=reason)
    db.session.commit()
    try:
        audit.record(actor=actor, action="automation.pause" if paused else "automation.resume",
                     target="automation", details={"reason": reason})
    except AuditWriteFailed:
        before = previous or {}
        policy.set_paused(previous is not None, actor=str(before.get("by") or actor), reason=before.get("reason"))
        db.session.commit()
        raise


def is_paused() -> bool:
    """True while the kill switch is on."""
    return policy.pause_state() is not None
