"""The gateway process as deployed: gunicorn.gateway.conf.py (gevent worker) holding many streams at once."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from app.ai.models import LLMCall
from app.infra.db import db
from tests.automation.sshd import free_port
from tests.conftest import REDIS_URL, TEST_SECRET_KEY
from tests.fakes.llm_server import FakeLLMServer, Script
from tests.gateway.conftest import Gateway, models_inventory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gevent_gateway(make_app: Callable[..., Flask], pg_url: str, llm_server: FakeLLMServer,
                   tmp_path: Path) -> Iterator[tuple[str, str, Flask]]:
    inventory = models_inventory(tmp_path, {"qwen3": {"provider": "openai", "base_url": llm_server.url,
                                                         "max_concurrency": 200}},
                                 {"limits": {"concurrency": 0, "requests_per_minute": 0}})
    app = make_app(OPENCLAW_CONFIG=inventory)
    token = Gateway(app, None).token("dev")  # type: ignore[arg-type]
    port = free_port()
    (tmp_path / "prom").mkdir()
    env = {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": TEST_SECRET_KEY,
           "OPENCLAW_CONFIG": inventory, "GATEWAY_PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-c", str(ROOT / "gunicorn.gateway.conf.py"),
                             "app:create_app()"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else "gateway exited"
            try:
                if requests.get(f"{url}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the gateway did not start within 60 s"
            time.sleep(0.2)
        yield url, token, app
    finally:
        proc.terminate()
        proc.wait(timeout=30)  # a clean exit writes the metering rows still queued


def test_one_gevent_worker_holds_many_streams_at_once(gevent_gateway: tuple[str, str, Flask],
                                                      llm_server: FakeLLMServer) -> None:
    url, token, app = gevent_gateway
    llm_server.responder = lambda body: Script(chunks=["tick "] * 4, chunk_delay=0.5)  # each stream lasts ~2 s
    clients = 60

    def stream(_: int) -> str:
        resp = requests.post(f"{url}/v1/chat/completions", headers={"Authorization": f"Bearer {token}"}, timeout=30,
                             json={"model": "qwen3", "stream": True, "messages": [{"role": "user", "content": "x"}]})
        return resp.text if resp.status_code == 200 else f"HTTP {resp.status_code}: {resp.text}"

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(stream, range(clients)))
    elapsed = time.monotonic() - started
    bad = [a for a in answers if a.count("tick") != 4 or not a.rstrip().endswith("data: [DONE]")]
    assert not bad, bad[:2]
    assert elapsed < 7.5  # all at once: a thread per stream (8 per gthread web worker) would need 15 s
    assert "gevent" not in sys.modules  # monkey-patching stayed in the gateway process
    deadline = time.monotonic() + 5
    with app.app_context():
        while db.session.execute(select(func.count()).select_from(LLMCall)).scalar_one() < clients:
            assert time.monotonic() < deadline, "metering rows not written"
            db.session.rollback()
            time.sleep(0.2)
        db.session.remove()
