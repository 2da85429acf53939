"""Item 4: without a reachable model the assistant says so, how to set one, and still answers from the KB."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade

from app import create_app
from app.ai.client import LLMClient
from app.infra.db import db
from app.kb import service as kb
from tests.automation.sshd import free_port
from tests.conftest import base_environ
from tests.first_hour.conftest import console


@pytest.fixture
def modelless_app(tmp_path: Path) -> Iterator[Flask]:
    """Embedded mode with LLM_BASE_URL pointing where nothing listens."""
    port = free_port()
    application = create_app(base_environ(f"sqlite:///{tmp_path}/openclaw.db", REDIS_URL="", SECRET_KEY="",
                                          LLM_BASE_URL=f"http://127.0.0.1:{port}", LLM_CONNECT_TIMEOUT="1"))
    with application.app_context():
        upgrade()
        yield application
        db.session.remove()
        db.engine.dispose()


def test_an_unreachable_model_is_named_with_the_fix_and_the_kb_still_answers(modelless_app: Flask) -> None:
    kb.add_article(title="Nginx 502 after deploy", body="A 502 from nginx after a deploy means the upstream "
                   "shop-api socket is not up yet. Check systemctl status shop-api.", author="ou_bob", chat_id="c")
    result = console(modelless_app, "--as", "ou_alice", "why does nginx return 502 after a deploy?")
    assert result.exit_code == 0, result.output
    url = modelless_app.config["LLM_BASE_URL"]
    assert f"No model server answers at {url}" in result.output
    assert "LLM_BASE_URL" in result.output and "LLM_MODEL" in result.output
    assert "Meanwhile, from the knowledge base:" in result.output
    assert "#1 Nginx 502 after deploy: A 502 from nginx" in result.output
    assert "try again in a minute" not in result.output


def test_nothing_in_the_kb_is_said_plainly(modelless_app: Flask) -> None:
    result = console(modelless_app, "--as", "ou_alice", "what is the meaning of life?")
    assert "No knowledge-base article matches the question either" in result.output


def test_the_default_ollama_address_means_no_model_is_configured() -> None:
    default = LLMClient(provider="ollama", base_url="http://127.0.0.1:11434", model="qwen3:32b")
    assert default.unreachable_message().startswith("No model server is configured: nothing answers at "
                                                    "http://127.0.0.1:11434")
    other = LLMClient(provider="openai", base_url="http://10.0.0.5:8000/v1", model="qwen3")
    assert other.unreachable_message().startswith("No model server answers at http://10.0.0.5:8000/v1 (openai")
