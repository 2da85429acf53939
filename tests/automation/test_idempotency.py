"""One message, one execution: the idempotency key holds, and a down job queue is reported truthfully."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from app.audit.models import AuditEvent
from app.audit.service import verify
from app.automation import service
from app.automation.models import Execution, ExecutionStatus
from app.automation.tasks import sweep_executions
from app.chat.registry import dispatch, dispatch_card
from app.chat.types import CardAction, CommandContext
from app.infra.db import db, utcnow
from app.users.service import role_of
from tests.automation.conftest import OPS_CHAT, Bot
from tests.automation.helpers import latest_execution, status_of


def said(text: str, message_id: str, open_id: str = "ou_bob") -> str:
    ctx = CommandContext(open_id=open_id, role=role_of(open_id), chat_id=OPS_CHAT, chat_type="group",
                         message_id=message_id, event_id=f"ev-{message_id}")
    reply = dispatch(ctx, text)
    assert reply.text is not None
    return reply.text


def executions() -> int:
    db.session.rollback()
    return int(db.session.execute(select(func.count()).select_from(Execution)).scalar_one())


@pytest.fixture
def queue_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every enqueue fails as if Redis were down."""
    import app.infra.queue as queue

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise ConnectionError("Redis is unreachable")

    monkeypatch.setattr(queue, "enqueue", refuse)


def test_the_same_message_dispatched_twice_runs_its_command_once(bot: Bot, run_jobs: Callable[[], int]) -> None:
    first = said("/run local-echo word=once", "om_same_message")
    second = said("/run local-echo word=once", "om_same_message")
    assert "queued" in first
    assert executions() == 1
    execution = latest_execution()
    assert execution.request_key == "om_same_message"
    assert f"#{execution.id}" in second and "already handled" in second
    run_jobs()
    assert status_of(execution.id) is ExecutionStatus.SUCCEEDED
    assert said("/run local-echo word=once", "om_same_message").endswith("is succeeded.")
    assert executions() == 1
    assert said("/run local-echo word=once", "om_other_message")  # a new message is a new request
    assert executions() == 2


def test_request_run_with_a_known_key_returns_that_execution(bot: Bot) -> None:
    args = {"runbook": "local-echo", "args": {"word": "x"}, "host": None}
    first = service.request_run(kind="run", args=args, actor="ou_bob", role=role_of("ou_bob"), chat_id=OPS_CHAT,
                                request_key="om_key")
    again = service.request_run(kind="run", args=args, actor="ou_bob", role=role_of("ou_bob"), chat_id=OPS_CHAT,
                                request_key="om_key")
    assert again.id == first.id
    requests = db.session.execute(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.action == "execution.request")).scalar_one()
    assert requests == 1


def test_a_mutating_command_without_an_execution_also_runs_once(bot: Bot) -> None:
    first = said("/alert silence alertname=DiskFull 1h", "om_silence")
    second = said("/alert silence alertname=DiskFull 1h", "om_silence")
    assert first.startswith("Silenced")
    assert "already handled" in second and "/alert silence" in second
    from app.alerts import service as alerts

    assert len(alerts.active_silences()) == 1


@pytest.mark.usefixtures("queue_down")
def test_run_while_the_queue_is_down_says_it_will_start_later_and_the_sweep_starts_it(
    bot: Bot, auto_app: Flask, run_jobs: Callable[[], int], monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = said("/run local-echo word=later", "om_queue_down")
    execution = latest_execution()
    assert execution.status is ExecutionStatus.QUEUED
    assert "job queue is unreachable" in text and "will start when the queue is back" in text
    monkeypatch.undo()  # the queue is back
    db.session.execute(update(Execution).where(Execution.id == execution.id)
                       .values(created_at=utcnow() - timedelta(seconds=auto_app.config["EXECUTION_STALE_AFTER"] + 1)))
    db.session.commit()
    sweep_executions()
    run_jobs()
    assert status_of(execution.id) is ExecutionStatus.SUCCEEDED


def test_approve_while_the_queue_is_down_says_approved_and_it_starts_when_the_queue_is_back(
    bot: Bot, auto_app: Flask, run_jobs: Callable[[], int], monkeypatch: pytest.MonkeyPatch, feishu_server: Any,
) -> None:
    bot.say("/deploy shop-api prod 3.2")
    execution = latest_execution()
    assert execution.status is ExecutionStatus.AWAITING_APPROVAL
    with monkeypatch.context() as patch:
        import app.infra.queue as queue

        def refuse(*args: Any, **kwargs: Any) -> str:
            raise ConnectionError("Redis is unreachable")

        patch.setattr(queue, "enqueue", refuse)
        ctx = CommandContext(open_id="ou_dave", role=role_of("ou_dave"), chat_id=OPS_CHAT, event_id="card-1")
        response = dispatch_card(ctx, CardAction(event_id="card-1", open_id="ou_dave", message_id="om_card",
                                                 chat_id=OPS_CHAT,
                                                 value={"action": "deploy.approve", "execution_id": execution.id}))
    assert response.toast is not None
    assert "Approved" in response.toast and "job queue is back" in response.toast
    assert "nothing was changed" not in response.toast
    assert status_of(execution.id) is ExecutionStatus.QUEUED
    approvals = db.session.execute(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.action == "execution.approve")).scalar_one()
    assert approvals == 1
    db.session.execute(update(Execution).where(Execution.id == execution.id)
                       .values(decided_at=utcnow() - timedelta(seconds=auto_app.config["EXECUTION_STALE_AFTER"] + 1)))
    db.session.commit()
    assert execution.id in service.requeue_stale_queued()
    run_jobs()
    assert status_of(execution.id) is ExecutionStatus.SUCCEEDED
    assert verify().ok
