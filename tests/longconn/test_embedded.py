"""The embedded quick start over the long connection: gunicorn as scripts/run.sh starts it, no webhook."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.infra.db import db
from tests.automation.sshd import free_port
from tests.conftest import INVENTORY
from tests.fakes.feishu_longconn import FakeLongConnServer
from tests.pushes import BOT_OPEN_ID, im_message

ROOT = Path(__file__).resolve().parents[2]


def embedded_environ(tmp_path: Path, feishu_url: str, port: int) -> dict[str, str]:
    """What scripts/run.sh exports, plus the Feishu app's credentials and nothing for webhooks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEISHU_", "REDIS_", "DATABASE_", "PUBLIC_"))}
    env.update({
        "DATABASE_URL": f"sqlite:///{tmp_path}/openclaw.db", "OPENCLAW_CONFIG": str(INVENTORY),
        "SECRET_KEY": "embedded-test-secret", "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4", "FEISHU_APP_ID": "cli_test", "FEISHU_APP_SECRET": "secret",
        "FEISHU_BASE_URL": feishu_url, "FEISHU_BOT_OPEN_ID": BOT_OPEN_ID, "LOG_LEVEL": "INFO",
    })
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@pytest.fixture
def gunicorn(tmp_path: Path, feishu_server: Any, longconn: FakeLongConnServer) -> Iterator[tuple[int, dict[str, str]]]:
    port = free_port()
    env = embedded_environ(tmp_path, feishu_server.url, port)
    app = create_app(env)
    assert app.config["EMBEDDED"] and app.config["FEISHU_TRANSPORT"] == "longconn"
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "app:create_app()"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield port, env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_a_chat_message_gets_its_reply_over_the_long_connection_without_any_webhook(
    gunicorn: tuple[int, dict[str, str]], longconn: FakeLongConnServer, feishu_server: Any,
) -> None:
    port, env = gunicorn
    assert "FEISHU_VERIFICATION_TOKEN" not in env  # the webhook could not accept anything
    conn = longconn.wait_connections(1, timeout=60)[0]
    payload = im_message("/help", sender="ou_alice", chat_type="p2p", mention_bot=False)
    message_id = longconn.send(payload, conn=conn)
    assert longconn.wait_ack(message_id)[0].body == {"code": 200}

    deadline = time.monotonic() + 30
    replies: list[Any] = []
    while not replies and time.monotonic() < deadline:
        replies = [m for m in feishu_server.messages() if m.reply_to == payload["event"]["message"]["message_id"]]
        time.sleep(0.1)
    assert replies, "no reply reached the fake Feishu"
    assert "/help" in json.dumps(replies[0].content, ensure_ascii=False)
    assert feishu_server.requests_to("/webhook") == []

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
        ready = json.load(response)
    assert ready["feishu_longconn"]["connected"] == 1
    assert ready["feishu_longconn"]["connectors"][0]["events"] == 1
