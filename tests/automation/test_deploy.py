"""/deploy: approval by another person, self-approval refused, expiry, the lock, cancel, redelivery."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import update

from app.audit.models import AuditEvent
from app.audit.service import verify
from app.automation import service
from app.automation.errors import InvalidTransition, PolicyDenied
from app.automation.models import Execution, ExecutionStatus
from app.automation.tasks import execute_run, sweep_executions
from app.chat.registry import dispatch_card
from app.chat.types import CardAction, CardResponse, CommandContext
from app.infra.db import db, utcnow
from app.outbox import service as outbox
from app.users.service import role_of
from tests.automation.conftest import OPS_CHAT, Bot
from tests.automation.helpers import jobs_lost, latest_execution, run_in_background, status_of, wait_for
from tests.automation.sshd import SSHServer

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode


def click(action: str, execution_id: int, open_id: str, message_id: str = "om_card_1") -> CardResponse:
    ctx = CommandContext(open_id=open_id, role=role_of(open_id), chat_id=OPS_CHAT, event_id=f"card-{open_id}")
    return dispatch_card(ctx, CardAction(event_id=f"card-{open_id}-{action}", open_id=open_id,
                                         value={"action": action, "execution_id": execution_id},
                                         message_id=message_id, chat_id=OPS_CHAT))


def deployer_calls(sshd: SSHServer) -> list[list[str]]:
    return [call for call in sshd.calls() if call[0] == "deployer"]


def test_deploy_to_staging_runs_step_by_step_with_one_progress_card(bot: Bot, sshd: SSHServer, run_jobs,  # type: ignore[no-untyped-def]
                                                                    feishu_server) -> None:
    reply = bot.say("/deploy shop-api staging 1.2.3")
    assert reply.text is not None and "queued" in reply.text
    run_jobs()
    execution = latest_execution()
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert sshd.calls() == [["deployer", "shop-api", "1.2.3"], ["systemctl", "is-active", "shop-api.service"]]
    cards = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    assert len(cards) == 1 and cards[0].chat_id == OPS_CHAT
    assert execution.card_message_id == cards[0].message_id
    assert len(cards[0].updates) >= 2  # PATCHed after each step
    assert cards[0].updates[-1]["header"]["template"] == "green"
    assert verify().ok


def test_prod_deploy_waits_for_another_persons_approval(bot: Bot, sshd: SSHServer, run_jobs) -> None:  # type: ignore[no-untyped-def]
    reply = bot.say("/deploy shop-api prod 2.0.0")
    assert reply.card is not None
    card_text = str(reply.card)
    assert "deployer shop-api 2.0.0" in card_text and "deploy.approve" in card_text and "deploy.reject" in card_text
    execution = latest_execution()
    assert execution.status is ExecutionStatus.AWAITING_APPROVAL
    run_jobs()
    assert sshd.calls() == []  # nothing runs before approval

    own = click("deploy.approve", execution.id, "ou_bob")
    assert own.toast_type == "error" and "own request" in (own.toast or "")
    auditor = click("deploy.approve", execution.id, "ou_carol")
    assert auditor.toast_type == "error" and "operator" in (auditor.toast or "")
    assert status_of(execution.id) is ExecutionStatus.AWAITING_APPROVAL

    approved = click("deploy.approve", execution.id, "ou_dave")
    assert approved.toast_type == "success" and approved.card is not None
    again = click("deploy.approve", execution.id, "ou_alice")  # a repeated click or a redelivery
    assert again.toast_type == "error" and "already" in (again.toast or "")
    run_jobs()
    assert status_of(execution.id) is ExecutionStatus.SUCCEEDED
    assert deployer_calls(sshd) == [["deployer", "shop-api", "2.0.0"]] * 2
    execution = latest_execution()
    assert execution.approver == "ou_dave" and execution.card_message_id == "om_card_1"

    before = sshd.calls()
    assert execute_run(execution.id) == "succeeded"  # the job run again does nothing
    assert sshd.calls() == before
    actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.seq)]
    assert actions.count("execution.approve") == 1
    assert verify().ok


def test_reject_closes_the_request(bot: Bot, sshd: SSHServer, run_jobs) -> None:  # type: ignore[no-untyped-def]
    bot.say("/deploy shop-api prod 2.0.1")
    execution = latest_execution()
    rejected = click("deploy.reject", execution.id, "ou_alice")
    assert rejected.toast_type == "info"
    assert status_of(execution.id) is ExecutionStatus.REJECTED
    assert click("deploy.approve", execution.id, "ou_dave").toast_type == "error"
    run_jobs()
    assert sshd.calls() == []


def test_unanswered_approval_expires(bot: Bot, sshd: SSHServer, auto_app: Flask, run_jobs) -> None:  # type: ignore[no-untyped-def]
    auto_app.config["APPROVAL_TIMEOUT"] = 60
    bot.say("/deploy shop-api prod 3.0")
    execution = latest_execution()
    assert execution.expires_at is not None
    db.session.execute(update(Execution).where(Execution.id == execution.id)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    late = click("deploy.approve", execution.id, "ou_dave")
    assert late.toast_type == "error" and "expired" in (late.toast or "")
    assert status_of(execution.id) is ExecutionStatus.EXPIRED
    run_jobs()
    assert sshd.calls() == []
    actions = [e.action for e in db.session.query(AuditEvent)]
    assert "execution.expire" in actions


def test_sweep_expires_old_requests(bot: Bot) -> None:
    bot.say("/deploy shop-api prod 3.1")
    execution = latest_execution()
    db.session.execute(update(Execution).where(Execution.id == execution.id)
                       .values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert sweep_executions() == {"expired": 1, "interrupted": 0}
    assert status_of(execution.id) is ExecutionStatus.EXPIRED


def test_an_expired_request_repaints_its_approval_card(bot: Bot, feishu_server) -> None:  # type: ignore[no-untyped-def]
    reply = bot.say("/deploy shop-api prod 3.2")
    assert reply.card is not None and not reply.delivered
    item = outbox.reply("om_request", key="om_request-0", card=reply.card, chat_id=OPS_CHAT, on_sent=reply.on_sent)
    outbox_id = outbox.stage(item)
    db.session.commit()
    assert outbox.deliver(outbox_id)  # as process_event delivers the replies it staged
    execution = latest_execution()
    cards = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    assert len(cards) == 1 and "deploy.approve" in str(cards[0].content)
    assert execution.card_message_id == cards[0].message_id
    db.session.execute(update(Execution).where(Execution.id == execution.id)
                       .values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert sweep_executions() == {"expired": 1, "interrupted": 0}
    repainted = cards[0].updates[-1] if cards[0].updates else None
    assert repainted is not None, "the approval card was not updated"
    assert "expired" in str(repainted) and "deploy.approve" not in str(repainted)


def test_a_second_deploy_is_told_who_is_deploying_what(bot: Bot, sshd: SSHServer, auto_app: Flask,  # type: ignore[no-untyped-def]
                                                        run_jobs) -> None:
    bot.say("/deploy shop-api staging slow-30")
    first = latest_execution()
    worker = run_in_background(auto_app, first.id)
    wait_for(lambda: deployer_calls(sshd) != [], what="the first deploy to start")
    second = bot.say("/deploy shop-api staging 4.0", open_id="ou_dave")
    assert second.text is not None
    assert "Bob is deploying shop-api staging" in second.text and "slow-30" in second.text and f"#{first.id}" in second.text
    assert status_of(first.id) is ExecutionStatus.RUNNING
    cancelled = bot.say(f"/cancel {first.id}", open_id="ou_dave")
    assert "cancelled" in (cancelled.text or "")
    worker.join(timeout=20)
    run_jobs()  # embedded mode: the in-process executor may be the one running it
    assert not worker.is_alive()
    assert status_of(first.id) is ExecutionStatus.CANCELLED
    assert ["systemctl", "is-active", "shop-api.service"] not in sshd.calls()  # stopped before the next step
    assert "Bob is deploying" not in (bot.say("/deploy shop-api staging 4.1", open_id="ou_dave").text or "")


def test_cancel_button_stops_a_running_deploy_and_kills_the_remote_command(  # type: ignore[no-untyped-def]
        bot: Bot, sshd: SSHServer, auto_app: Flask, run_jobs) -> None:
    import subprocess

    bot.say("/deploy shop-api staging slow-47")
    execution = latest_execution()
    worker = run_in_background(auto_app, execution.id)
    wait_for(lambda: deployer_calls(sshd) != [], what="the deploy to start")
    response = click("execution.cancel", execution.id, "ou_dave")
    assert response.toast_type == "warning"
    worker.join(timeout=20)
    run_jobs()  # embedded mode: the in-process executor may be the one running it
    final = latest_execution()
    assert final.status is ExecutionStatus.CANCELLED and final.cancelled_by == "ou_dave"
    assert final.finished_at is not None and final.hosts[0].outcome == "cancelled"
    leftover = subprocess.run(["pgrep", "-u", sshd.user, "-f", "slow-47"], capture_output=True, text=True).stdout
    assert leftover.strip() == ""
    assert verify().ok


def test_cancel_of_a_finished_execution_is_refused(bot: Bot, run_jobs) -> None:  # type: ignore[no-untyped-def]
    bot.say("/deploy shop-api staging 5.0")
    run_jobs()
    execution = latest_execution()
    assert "nothing to cancel" in (bot.say(f"/cancel {execution.id}").text or "")
    assert "No execution #999999" in (bot.say("/cancel 999999").text or "")


def test_withdrawing_a_waiting_request(bot: Bot) -> None:
    bot.say("/deploy shop-api prod 6.0")
    execution = latest_execution()
    assert "cancelled" in (bot.say(f"/cancel {execution.id}").text or "")
    assert status_of(execution.id) is ExecutionStatus.CANCELLED


def test_service_refuses_self_approval_directly(bot: Bot) -> None:
    bot.say("/deploy shop-api prod 7.0")
    execution = latest_execution()
    with pytest.raises(PolicyDenied):
        service.approve(execution_id=execution.id, approver="ou_bob", role=role_of("ou_bob"))
    service.approve(execution_id=execution.id, approver="ou_alice", role=role_of("ou_alice"))
    with pytest.raises(InvalidTransition):
        service.approve(execution_id=execution.id, approver="ou_dave", role=role_of("ou_dave"))


def test_approving_while_paused_is_refused(bot: Bot) -> None:
    bot.say("/deploy shop-api prod 8.0")
    execution = latest_execution()
    bot.say("/pause", open_id="ou_alice")
    response = click("deploy.approve", execution.id, "ou_dave")
    assert response.toast_type == "error" and "paused" in (response.toast or "")
    assert status_of(execution.id) is ExecutionStatus.AWAITING_APPROVAL


def test_a_queued_execution_whose_job_was_lost_is_queued_again_by_the_sweep(  # type: ignore[no-untyped-def]
        bot: Bot, sshd: SSHServer, auto_app: Flask, run_jobs) -> None:
    with jobs_lost(auto_app):  # as after a Redis failover, or a restart of the embedded process
        bot.say("/deploy shop-api staging 5.0")
    execution = latest_execution()
    assert execution.status is ExecutionStatus.QUEUED
    run_jobs()
    assert status_of(execution.id) is ExecutionStatus.QUEUED and sshd.calls() == []
    db.session.execute(update(Execution).where(Execution.id == execution.id)
                       .values(created_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    sweep_executions()
    run_jobs()
    assert status_of(execution.id) is ExecutionStatus.SUCCEEDED
    assert sshd.calls()[0] == ["deployer", "shop-api", "5.0"]
    sweep_executions()  # a settled execution is never queued again
    run_jobs()
    assert [c for c in sshd.calls() if c[0] == "deployer"] == [["deployer", "shop-api", "5.0"]]


def test_approval_progress_and_result_cards_say_what_is_deployed_and_who_approved(  # type: ignore[no-untyped-def]
        bot: Bot, sshd: SSHServer, run_jobs) -> None:
    from app.automation import present
    from app.inbox.card_text import card_text

    reply = bot.say("/deploy shop-api prod 2.0.0")
    assert reply.card is not None
    asked = card_text(reply.card)
    assert asked.splitlines()[0] == "== Approval needed: deploy shop-api prod 2.0.0 =="
    assert "App shop-api · Environment prod · Version 2.0.0" in asked
    execution = latest_execution()
    approved = click("deploy.approve", execution.id, "ou_dave")
    assert approved.card is not None
    running = card_text(approved.card)
    assert "deploy shop-api prod 2.0.0" in running.splitlines()[0]
    assert "Version 2.0.0 · Approved by" in running
    run_jobs()
    done = latest_execution()
    assert done.status is ExecutionStatus.SUCCEEDED
    result = card_text(present.progress_card(done, service.plan_of(done)))
    assert result.splitlines()[0] == "== deploy shop-api prod 2.0.0: succeeded =="
    assert "App shop-api · Environment prod · Version 2.0.0 · Approved by" in result
