"""Embedded mode end to end, configured as scripts/run.sh configures it: SQLite, no Redis, in-process jobs.

A prod deploy is requested in chat and approved by a card click, both through the signed
Feishu webhook, and runs on the test sshd; an unacknowledged critical alert escalates on
a controllable clock; the execution sweep finds a run whose process died and a queued run
whose job was lost. These are the flows that raised "can't compare offset-naive and
offset-aware datetimes" on SQLite.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from app import create_app
from app.alerts.models import Alert
from app.alerts.oncall import person_at
from app.audit.service import verify
from app.automation.models import Execution, ExecutionStatus
from app.automation.pool import POOL
from app.config import load_config
from app.infra.db import db, utcnow
from app.infra.queue import EXTENSION, InProcessBackend, enqueue
from app.inventory import get_inventory
from tests.automation.conftest import OPS_CHAT, inventory_for
from tests.automation.helpers import jobs_lost, latest_execution, status_of
from tests.automation.sshd import SSHServer
from tests.conftest import ENCRYPT_KEY, VERIFICATION_TOKEN, wait_for_jobs
from tests.pushes import BOT_OPEN_ID, card_action, encrypted_push, im_message, signed_headers

ALERT_TOKEN = "embedded-alert-token-0123456789"
STEP = timedelta(minutes=10)


def run_sh_environ(tmp_path: Path, inventory: Path, feishu_url: str) -> dict[str, str]:
    """What scripts/run.sh exports (DATABASE_URL on SQLite, no REDIS_URL, OPENCLAW_CONFIG, SECRET_KEY),
    plus the Feishu app and alert token a deployment adds in .env."""
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/instance/openclaw.db",
        "OPENCLAW_CONFIG": str(inventory),
        "SECRET_KEY": "embedded-secret-key-for-tests",
        "FEISHU_APP_ID": "cli_test", "FEISHU_APP_SECRET": "secret", "FEISHU_BASE_URL": feishu_url,
        "FEISHU_VERIFICATION_TOKEN": VERIFICATION_TOKEN, "FEISHU_ENCRYPT_KEY": ENCRYPT_KEY,
        "FEISHU_BOT_OPEN_ID": BOT_OPEN_ID, "ALERT_WEBHOOK_TOKEN": ALERT_TOKEN,
    }


@pytest.fixture
def run_sh_app(tmp_path: Path, sshd: SSHServer, feishu_server: Any) -> Iterator[Flask]:
    """The app as scripts/run.sh starts it: `flask db upgrade`, `flask users sync`, then the web app."""
    inventory = inventory_for(sshd)
    inventory["alerting"] = {"routes": [{"match": {"severity": "critical"}, "chat": OPS_CHAT,
                                         "notify": ["card", "urgent_app"]}]}
    inventory["oncall"] = {"platform": {"members": ["ou_bob", "ou_dave"], "rotation": "weekly",
                                        "escalate_after": "10m"}}
    inventory["services"]["nginx"]["oncall"] = "platform"
    path = tmp_path / "openclaw.yaml"
    path.write_text(yaml.safe_dump(inventory))
    feishu_server.add_chat(OPS_CHAT, members=("ou_alice", "ou_bob", "ou_dave"))
    environ = run_sh_environ(tmp_path, path, feishu_server.url)
    config = load_config(environ)
    assert config["EMBEDDED"] and config["REDIS_URL"] is None and config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    app = create_app(environ)
    assert isinstance(app.extensions[EXTENSION], InProcessBackend)
    runner = app.test_cli_runner()
    for command in (["db", "upgrade"], ["users", "sync"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    app.config.update(SSH_KNOWN_HOSTS=str(sshd.known_hosts), SSH_CONNECT_TIMEOUT=3, SSH_COMMAND_TIMEOUT=20,
                      EXECUTION_HEARTBEAT=0.2)
    sshd.clear_calls()
    with app.app_context():
        yield app
        wait_for_jobs(app)
        app.extensions[EXTENSION].pool.shutdown(wait=True)
        db.session.remove()
        db.engine.dispose()
    POOL.close_all()


def say(client: FlaskClient, text: str, sender: str) -> str:
    """Post an encrypted, signed group message mentioning the bot; returns its message id."""
    payload = im_message(text, sender=sender, chat_id=OPS_CHAT)
    raw, headers = encrypted_push(payload)
    response = client.post("/webhook/feishu", data=raw, headers=headers, content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(payload["event"]["message"]["message_id"])


def click(client: FlaskClient, value: dict[str, Any], operator: str, message_id: str) -> Any:
    """A signed card.action.trigger callback, as Feishu posts a button click."""
    payload = card_action(value, operator=operator)
    payload["event"]["context"] = {"open_message_id": message_id, "open_chat_id": OPS_CHAT}
    raw = json.dumps(payload).encode()
    return client.post("/webhook/feishu", data=raw, headers=signed_headers(raw), content_type="application/json")


def deployer_calls(sshd: SSHServer) -> list[list[str]]:
    return [call for call in sshd.calls() if call[0] == "deployer"]


def test_a_prod_deploy_is_approved_by_a_card_click_and_runs(run_sh_app: Flask, sshd: SSHServer,
                                                            feishu_server: Any) -> None:
    client = run_sh_app.test_client()
    asked = say(client, "/deploy shop-api prod 2.0.0", sender="ou_bob")
    wait_for_jobs(run_sh_app)
    execution = latest_execution()
    assert execution.status is ExecutionStatus.AWAITING_APPROVAL and execution.expires_at is not None
    [card] = [m for m in feishu_server.messages() if m.reply_to == asked and m.msg_type == "interactive"]
    assert "deploy.approve" in str(card.content)
    assert deployer_calls(sshd) == []  # nothing runs before approval

    own = click(client, {"action": "deploy.approve", "execution_id": execution.id}, "ou_bob", card.message_id)
    assert own.status_code == 200 and own.get_json()["toast"]["type"] == "error"
    approved = click(client, {"action": "deploy.approve", "execution_id": execution.id}, "ou_dave", card.message_id)
    assert approved.status_code == 200, approved.get_data(as_text=True)
    assert approved.get_json()["toast"]["type"] == "success"
    wait_for_jobs(run_sh_app)
    assert status_of(execution.id) is ExecutionStatus.SUCCEEDED
    assert deployer_calls(sshd) == [["deployer", "shop-api", "2.0.0"]] * 2
    finished = latest_execution()
    assert finished.approver == "ou_dave" and finished.decided_at is not None
    assert finished.created_at <= finished.decided_at <= finished.started_at <= finished.finished_at <= utcnow()
    assert verify().ok


def test_an_unacknowledged_critical_alert_escalates_on_the_clock(run_sh_app: Flask, feishu_server: Any) -> None:
    from app.alerts.tasks import tick_alerts

    client = run_sh_app.test_client()
    alert = {"status": "firing", "labels": {"alertname": "HighCPU", "instance": "web-01:9100", "severity": "critical",
                                            "service": "nginx"},
             "annotations": {"summary": "HighCPU on web-01"}, "startsAt": "2026-11-21T10:00:00Z",
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example/graph",
             "fingerprint": "0123456789abcdef"}
    body = {"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing", "receiver": "openclaw",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [alert]}
    response = client.post("/webhook/alertmanager", data=json.dumps(body), content_type="application/json",
                           headers={"Authorization": f"Bearer {ALERT_TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    wait_for_jobs(run_sh_app)
    stored = db.session.query(Alert).one()
    assert stored.card_message_id is not None and stored.next_escalation_at is not None
    feishu_server.buzzes.clear()  # the route's own urgent_app when the card was sent

    schedule = get_inventory().oncall["platform"]
    enqueue(tick_alerts, (stored.created_at + STEP - timedelta(seconds=1)).timestamp())
    wait_for_jobs(run_sh_app)
    assert feishu_server.buzzes == []
    enqueue(tick_alerts, (stored.created_at + STEP).timestamp())  # the periodic job, on our clock
    wait_for_jobs(run_sh_app)
    person = person_at(schedule, stored.created_at + STEP)
    assert feishu_server.buzzes == [(stored.card_message_id, "app", [person])]
    db.session.expire_all()
    assert db.session.query(Alert).one().escalation_step == 1


def test_the_execution_sweep_marks_a_dead_run_interrupted_and_requeues_a_lost_job(
        run_sh_app: Flask, sshd: SSHServer) -> None:
    from app.infra.scheduler import Scheduler
    from app.worker import SCHEDULE

    client = run_sh_app.test_client()
    with jobs_lost(run_sh_app):  # the process was restarted: the in-process jobs went with it
        say(client, "/run echo-arg target=died", sender="ou_bob")
        wait_for_jobs(run_sh_app)
        dead = latest_execution()
        say(client, "/run echo-arg target=lost", sender="ou_bob")
        wait_for_jobs(run_sh_app)
        lost = latest_execution()
    assert dead.id != lost.id and {dead.status, lost.status} == {ExecutionStatus.QUEUED}
    stale = utcnow() - timedelta(seconds=int(run_sh_app.config["EXECUTION_STALE_AFTER"]) + 60)
    # What a process killed mid-run leaves behind: running, its heartbeat long stopped.
    db.session.execute(update(Execution).where(Execution.id == dead.id).values(
        status=ExecutionStatus.RUNNING, started_at=stale, heartbeat_at=stale, worker="pid-gone"))
    db.session.execute(update(Execution).where(Execution.id == lost.id).values(created_at=stale))
    db.session.commit()

    assert "sweep_executions" in Scheduler(run_sh_app, SCHEDULE).run_due()  # as the in-process scheduler runs it
    wait_for_jobs(run_sh_app)
    interrupted = db.session.get(Execution, dead.id, populate_existing=True)
    assert interrupted is not None and interrupted.status is ExecutionStatus.INTERRUPTED
    assert "not re-run" in (interrupted.summary or "") and interrupted.finished_at is not None
    assert status_of(lost.id) is ExecutionStatus.SUCCEEDED
    assert deployer_calls(sshd) == [["deployer", "runbook", "lost"]]  # the dead run was never run again
    assert verify().ok
