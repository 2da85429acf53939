"""Fixtures for the automation engine: a real sshd on loopback, an inventory pointing at it, the bot."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import yaml
from flask import Flask

from app.automation.pool import POOL
from app.chat.registry import dispatch
from app.chat.types import CommandContext, Reply
from app.infra.db import db
from tests.automation.sshd import SSHServer, remove_workdir, start_sshd
from tests.conftest import embedded, settle_jobs, wait_for_jobs

OPS_CHAT = "oc_ops"


@pytest.fixture(scope="session")
def sshd() -> Iterator[SSHServer]:
    """OpenSSH on a free loopback port: test user, key auth, its own host key, stand-in systemctl/journalctl."""
    server = start_sshd()
    try:
        yield server
    finally:
        POOL.close_all()
        remove_workdir(server)


def inventory_for(server: SSHServer) -> dict[str, Any]:
    """The inventory the automation tests run with: two SSH hosts on the test sshd and the local machine."""
    host = {"address": "127.0.0.1", "port": server.port, "user": server.user, "key_file": str(server.client_key)}
    logfile = server.workdir / "app.log"
    return {
        "users": [
            {"open_id": "ou_alice", "name": "Alice", "role": "admin"},
            {"open_id": "ou_bob", "name": "Bob", "role": "operator"},
            {"open_id": "ou_dave", "name": "Dave", "role": "operator"},
            {"open_id": "ou_carol", "name": "Carol", "role": "auditor"},
        ],
        "default_role": "user",
        "hosts": {
            "web-01": {**host, "tags": ["web", "prod"]},
            "web-02": {**host, "tags": ["web"]},
            "local": {"transport": "local"},
        },
        "services": {
            "nginx": {"hosts": ["web-01", "web-02"], "unit": "nginx.service", "log": "journal"},
            "broken": {"hosts": ["web-01"], "unit": "broken.service"},
            "applog": {"hosts": ["web-01"], "unit": "applog.service", "log": str(logfile)},
        },
        "deploy": {
            "shop-api": {
                "environments": {
                    "staging": {"hosts": ["web-01"], "approval": False},
                    "prod": {"hosts": ["web-01", "web-02"], "approval": True},
                },
                "steps": [
                    {"run": "deployer shop-api {version}"},
                    {"check": "systemctl is-active shop-api.service"},
                ],
            },
        },
        "runbooks": {
            "echo-arg": {"description": "echo an argument", "role": "operator", "hosts": ["web-01"],
                         "run": "deployer runbook {target}", "args": {"target": {}}},
            "sleeper": {"description": "sleep a while", "role": "operator", "hosts": ["web-01"],
                        "run": "sleep {seconds}", "args": {"seconds": {"pattern": "^[0-9]+$"}}},
            "admin-only": {"role": "admin", "hosts": ["web-01"], "run": "deployer admin"},
            "local-echo": {"role": "operator", "hosts": ["local"], "run": "echo hello {word}",
                           "args": {"word": {}}},
        },
    }


@pytest.fixture(scope="session")
def inventory_path(sshd: SSHServer) -> Path:
    path = sshd.workdir / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory_for(sshd)))
    return path


@pytest.fixture
def auto_app(make_app: Callable[..., Flask], feishu_server: Any, sshd: SSHServer, inventory_path: Path) -> Iterator[Flask]:
    """The app on PostgreSQL + Redis with the automation inventory, fake Feishu, and known_hosts of the test sshd."""
    feishu_server.add_chat(OPS_CHAT, members=("ou_alice", "ou_bob", "ou_dave"))
    application = make_app(
        OPENCLAW_CONFIG=str(inventory_path), FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret",
        FEISHU_BASE_URL=feishu_server.url,
    )
    application.config.update(SSH_KNOWN_HOSTS=str(sshd.known_hosts), SSH_CONNECT_TIMEOUT=3, SSH_COMMAND_TIMEOUT=20,
                              EXECUTION_HEARTBEAT=0.2)
    sshd.clear_calls()
    sshd.journal.write_text("")
    with application.app_context():
        yield application
        settle_jobs(application)
        db.session.remove()
    POOL.close_all()


@dataclass
class Bot:
    """Says things to the bot through dispatch() as a given person, like errbot's testbot."""

    app: Flask

    def say(self, text: str, open_id: str = "ou_bob", chat_id: str = OPS_CHAT) -> Reply:
        from app.users.service import role_of

        ctx = CommandContext(open_id=open_id, role=role_of(open_id), chat_id=chat_id, chat_type="group",
                             message_id=f"om_{uuid.uuid4().hex}", event_id=f"ev-{text[:20]}")
        return dispatch(ctx, text)


@pytest.fixture
def bot(auto_app: Flask) -> Bot:
    return Bot(auto_app)


@pytest.fixture
def run_jobs(auto_app: Flask, request: pytest.FixtureRequest) -> Callable[[], int]:
    """Run every queued job now in this process (RQ burst); returns how many ran.

    In embedded mode jobs already run on the in-process executor: wait for them.
    """
    from rq import SimpleWorker

    from app.infra import queue as queue_module

    if embedded(auto_app):
        backend = auto_app.extensions[queue_module.EXTENSION]
        seen = [backend._counter]

        def wait() -> int:
            wait_for_jobs(auto_app)
            db.session.expire_all()
            ran, seen[0] = backend._counter - seen[0], backend._counter
            return ran

        return wait
    redis_client: redis_lib.Redis = request.getfixturevalue("redis_client")

    def run() -> int:
        queue_module._worker_app = auto_app
        queues = list(auto_app.extensions[queue_module.EXTENSION].queues.values())
        worker = SimpleWorker(queues, connection=redis_client)
        worker.work(burst=True, with_scheduler=False)
        db.session.expire_all()
        return worker.successful_job_count + worker.failed_job_count

    return run
