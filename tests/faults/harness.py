"""One fault scenario: a bot (real worker and web processes) on its own database, Redis and fake Feishu.

Every command sent is `/run append tag=<unique>`: a runbook on a `transport: local` host whose
command appends the tag to a file, so executions are counted by lines. Replies are counted as the
fake Feishu saw them: messages replying to each command's message id (the fake shows a uuid once).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
import yaml
from flask import Flask

from app import create_app
from app.infra.db import db
from tests.automation.sshd import free_port
from tests.conftest import ENCRYPT_KEY, ROOT, VERIFICATION_TOKEN
from tests.fakes.feishu_server import FakeFeishuServer
from tests.faults.servers import PostgresCluster, RedisServer
from tests.pushes import BOT_OPEN_ID, encrypted_push, im_message

SETTLE_TIMEOUT = 60.0  # seconds a scenario gets to converge after its fault ends
CHAT = "oc_faults"

# Short bounds so a scenario recovers in seconds (production defaults are 30 s, 600 s, 120 s, 90 s).
FAST = {
    "EVENT_SWEEP_INTERVAL": "1",
    "EVENT_STALE_AFTER": "4",
    "EXECUTION_SWEEP_INTERVAL": "1",
    "EXECUTION_STALE_AFTER": "4",
    "EXECUTION_HEARTBEAT": "1",
    "OUTBOX_CLAIM_TIMEOUT": "3",
    "ALERT_TICK_INTERVAL": "60",
}


@dataclass
class Row:
    """One line of the fault table."""

    fault: str
    sent: int
    executed: int
    delivered: int
    duplicates: int
    lost: int
    audit_ok: bool
    seconds: float = 0.0

    def ok(self) -> bool:
        return (self.executed == self.sent and self.delivered == self.sent and self.duplicates == 0
                and self.lost == 0 and self.audit_ok)


@dataclass
class Bot:
    """The processes and servers of one scenario."""

    name: str
    workdir: Path
    pg: PostgresCluster
    redis: RedisServer
    feishu: FakeFeishuServer
    database: str
    executed_log: Path
    inventory: Path
    feishu_port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)  # message ids of the distinct commands sent
    tags: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _app: Flask | None = None

    # -- environment ---------------------------------------------------------------------------

    def environ(self, **overrides: str) -> dict[str, str]:
        return {
            "DATABASE_URL": self.pg.url(self.database),
            "REDIS_URL": self.redis.url,
            "SECRET_KEY": "fault-suite-secret-9d41c7a2e8b36f05",
            "OPENCLAW_CONFIG": str(self.inventory),
            "FEISHU_APP_ID": "cli_test",
            "FEISHU_APP_SECRET": "secret",
            "FEISHU_BASE_URL": f"http://127.0.0.1:{self.feishu_port}",
            "FEISHU_VERIFICATION_TOKEN": VERIFICATION_TOKEN,
            "FEISHU_ENCRYPT_KEY": ENCRYPT_KEY,
            "FEISHU_BOT_OPEN_ID": BOT_OPEN_ID,
            "LOG_LEVEL": "INFO",
            **FAST,
            **overrides,
        }

    @property
    def app(self) -> Flask:
        """An app in this test process on the scenario's servers (counting, and the in-process webhook)."""
        if self._app is None:
            self._app = create_app(self.environ())
        return self._app

    # -- processes -----------------------------------------------------------------------------

    def _spawn(self, argv: list[str], log_name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        full = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(self.workdir)), **env}
        log = open(self.workdir / log_name, "ab")  # noqa: SIM115 - the process holds it
        process = subprocess.Popen(argv, cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def start_worker(self, **overrides: str) -> subprocess.Popen[bytes]:
        """`flask --app app worker` (scheduler, inbox pump, both queues)."""
        flask = str(Path(sys.executable).with_name("flask"))
        return self._spawn([flask, "--app", "app", "worker"], f"worker-{len(self.processes)}.log",
                           self.environ(**overrides))

    def start_web(self, **overrides: str) -> tuple[subprocess.Popen[bytes], str]:
        """gunicorn with one worker process, as deployed; returns it and its base URL."""
        port = free_port()
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        env = self.environ(HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY="1", GUNICORN_THREADS="2",
                           **overrides)
        process = self._spawn([gunicorn, "-c", "gunicorn.conf.py", "app:create_app()"],
                              f"web-{len(self.processes)}.log", env)
        url = f"http://127.0.0.1:{port}"
        wait(lambda: _answers(url), 30, "gunicorn to answer", self)
        return process, url

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def shutdown(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)
        if self._app is not None:
            with self._app.app_context():
                db.engine.dispose()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.workdir.glob("*.log")))

    # -- Feishu --------------------------------------------------------------------------------

    def feishu_down(self) -> None:
        self.feishu.stop()

    def feishu_up(self) -> None:
        self.feishu.start(self.feishu_port)

    # -- messages ------------------------------------------------------------------------------

    def command(self) -> dict[str, Any]:
        """A new distinct command: /run append with a unique tag, from Bob (operator) in the group."""
        tag = f"{self.name}-{len(self.tags) + 1}"
        self.tags.append(tag)
        payload = im_message(f"/run append tag={tag}", sender="ou_bob", chat_id=CHAT)
        self.sent.append(str(payload["event"]["message"]["message_id"]))
        return payload

    def push(self, payload: dict[str, Any], url: str | None = None, *, until_accepted: float = 0.0) -> int:
        """POST the event as Feishu does (to the in-process app, or a web process at url); the HTTP status.

        With until_accepted, retry every 0.5 s while the answer is not 200, as Feishu redelivers
        (Feishu itself waits longer between attempts: 15 s, 5 min, 1 h, 6 h).
        """
        deadline = time.monotonic() + until_accepted
        while True:
            status = self._post(payload, url)
            if status == 200 or time.monotonic() >= deadline:
                return status
            time.sleep(0.5)

    def _post(self, payload: dict[str, Any], url: str | None) -> int:
        raw, headers = encrypted_push(payload)
        if url is None:
            with self.app.app_context():
                response = self.app.test_client().post("/webhook/feishu", data=raw, headers=headers,
                                                       content_type="application/json")
                db.session.remove()
            return response.status_code
        try:
            return requests.post(f"{url}/webhook/feishu", data=raw, timeout=10,
                                 headers={**headers, "Content-Type": "application/json"}).status_code
        except requests.RequestException:
            return 0  # the connection died with the process

    # -- counting ------------------------------------------------------------------------------

    def executed_tags(self) -> list[str]:
        if not self.executed_log.exists():
            return []
        return [line.strip() for line in self.executed_log.read_text().splitlines() if line.strip()]

    def replies(self) -> Counter[str]:
        wanted = set(self.sent)
        return Counter(m.reply_to for m in self.feishu.messages() if m.reply_to in wanted)

    def converged(self) -> bool:
        replies = self.replies()
        return (set(self.executed_tags()) >= set(self.tags) and all(replies[m] >= 1 for m in self.sent)
                and self._nothing_owed())

    def _nothing_owed(self) -> bool:
        try:
            with self.app.app_context():
                try:
                    owed = db.session.execute(sa.text(
                        "SELECT (SELECT count(*) FROM outbound_messages WHERE status = 'pending')"
                        " + (SELECT count(*) FROM inbound_events WHERE status IN ('received', 'processing', 'failed'))"
                        " + (SELECT count(*) FROM executions WHERE status IN ('queued', 'running'))"
                    )).scalar_one()
                finally:
                    db.session.remove()
        except sa.exc.SQLAlchemyError:
            return False
        return int(owed) == 0

    def row(self) -> Row:
        """Count, after the scenario converged (or timed out)."""
        tags = self.executed_tags()
        replies = self.replies()
        executed = len(set(tags) & set(self.tags))
        delivered = sum(1 for m in self.sent if replies[m] == 1)
        duplicates = (len(tags) - len(set(tags))) + sum(max(0, replies[m] - 1) for m in self.sent)
        with self.app.app_context():
            from app.audit.service import verify

            recorded = set(db.session.execute(sa.text("SELECT message_id FROM inbound_events")).scalars())
            audit_ok = verify().ok
            db.session.remove()
        lost = sum(1 for m in self.sent if m not in recorded or replies[m] == 0)
        return Row(self.name, len(self.sent), executed, delivered, duplicates, lost, audit_ok,
                   round(time.monotonic() - self.started, 1))


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=1).status_code < 500
    except requests.RequestException:
        return False


def wait(condition: Callable[[], bool], timeout: float, what: str, bot: Bot) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{bot.logs()}")


def wait_dead(process: subprocess.Popen[bytes], bot: Bot, timeout: float = 30) -> None:
    wait(lambda: process.poll() is not None, timeout, "the process to die at its fault point", bot)
    assert process.returncode == -signal.SIGKILL, f"exited {process.returncode}, not by SIGKILL\n{bot.logs()}"


def inventory(executed_log: Path) -> dict[str, Any]:
    return {
        "users": [{"open_id": "ou_bob", "name": "Bob", "role": "operator"}],
        "default_role": "user",
        "hosts": {"local": {"transport": "local"}},
        "runbooks": {
            "append": {
                "description": "append a tag to the fault suite's execution log",
                "role": "operator", "hosts": ["local"],
                "run": f"sh -c 'echo {{tag}} >> {executed_log}'",
                "args": {"tag": {"pattern": "^[a-z0-9-]+$"}},
            },
        },
    }


def new_bot(name: str, workdir: Path, pg: PostgresCluster, redis: RedisServer) -> Bot:
    """A fresh database migrated to head, an empty Redis, a fake Feishu on a port it keeps."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = f"faults_{name.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(pg.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    redis.flush()
    executed_log = workdir / "executed.log"
    inventory_path = workdir / "inventory.yaml"
    inventory_path.write_text(yaml.safe_dump(inventory(executed_log)))
    feishu = FakeFeishuServer().start()
    feishu.add_chat(CHAT, members=("ou_bob",))
    bot = Bot(name, workdir, pg, redis, feishu, database, executed_log, inventory_path, feishu.port)
    with bot.app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.session.remove()
    bot.started = time.monotonic()
    return bot
