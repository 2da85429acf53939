"""A worker killed mid-deploy leaves the execution interrupted after the sweep, and it is never re-run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from flask import Flask

from app.audit.service import verify
from app.automation.models import ExecutionStatus
from app.automation.tasks import execute_run, sweep_executions
from tests.automation.conftest import Bot
from tests.automation.helpers import jobs_lost, latest_execution, status_of, wait_for
from tests.automation.sshd import SSHServer

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode

WORKER = textwrap.dedent("""
    import sys
    from app import create_app
    from tests.conftest import base_environ

    db_url, inventory, known_hosts, execution_id = sys.argv[1:5]
    embedded = {"REDIS_URL": ""} if db_url.startswith("sqlite") else {}
    app = create_app(base_environ(db_url, OPENCLAW_CONFIG=inventory, **embedded))
    app.config.update(SSH_KNOWN_HOSTS=known_hosts, EXECUTION_HEARTBEAT=0.2)
    with app.app_context():
        from app.automation.tasks import execute_run
        execute_run(int(execution_id))
""")


def test_worker_killed_mid_deploy_is_marked_interrupted_and_not_rerun(
    bot: Bot, sshd: SSHServer, auto_app: Flask, database_url: str, inventory_path: Path,
) -> None:
    with jobs_lost(auto_app):  # only the worker process below runs it
        bot.say("/deploy shop-api staging slow-60")
    execution = latest_execution()
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, database_url, str(inventory_path), str(sshd.known_hosts), str(execution.id)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: ["deployer", "shop-api", "slow-60"] in sshd.calls(), timeout=30, what="the deploy to start")
        assert status_of(execution.id) is ExecutionStatus.RUNNING
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    auto_app.config["EXECUTION_STALE_AFTER"] = 1
    assert sweep_executions() == {"expired": 0, "interrupted": 0} or status_of(execution.id) is not ExecutionStatus.RUNNING
    time.sleep(1.5)
    assert sweep_executions()["interrupted"] == 1
    final = latest_execution()
    assert final.status is ExecutionStatus.INTERRUPTED and "not re-run" in (final.summary or "")

    calls_before = sshd.calls()
    assert execute_run(execution.id) == "interrupted"  # a redelivered job finds nothing to do
    assert sshd.calls() == calls_before
    assert ["systemctl", "is-active", "shop-api.service"] not in calls_before

    reply = bot.say("/deploy shop-api staging 9.9", open_id="ou_dave")  # the lock went with the dead worker
    assert reply.text is not None and "is deploying" not in reply.text
    assert verify().ok
    _kill_leftover(sshd, "slow-60")


def _kill_leftover(sshd: SSHServer, marker: str) -> None:
    out = subprocess.run(["pgrep", "-u", sshd.user, "-f", marker], capture_output=True, text=True).stdout
    for pid in out.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
