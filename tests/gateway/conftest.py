"""Fixtures for the AI gateway: the app on a real HTTP server in front of fake upstreams, and API tokens."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from app.infra.db import db
from app.inventory.schema import Role
from app.users.tokens import create_token
from tests.conftest import INVENTORY
from tests.fakes.llm_fixtures import llm_server  # noqa: F401 - fixture
from tests.fakes.llm_server import FakeLLMServer
from tests.web.admin.helpers import make_account


@dataclass
class Gateway:
    """The app served on 127.0.0.1:port, with a token per account made so far."""

    app: Flask
    server: BaseWSGIServer
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def token(self, login: str = "dev", role: Role = Role.USER, *, name: str = "notebook", open_id: str | None = None,
              **limits: Any) -> str:
        """A new token for login (the account is made on first use)."""
        with self.app.app_context():
            from app.users.accounts import get_by_login

            if get_by_login(login) is None:
                make_account(login, role, open_id=open_id)
            _row, token = create_token(login=login, name=name, **limits)
            db.session.remove()
        self.tokens[login] = token
        return token

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def models_inventory(tmp_path: Path, models: dict[str, Any], gateway: dict[str, Any] | None = None) -> str:
    """The test inventory plus a models: (and gateway:) section, written to a file; its path."""
    data = yaml.safe_load(INVENTORY.read_text())
    data["models"] = models
    if gateway is not None:
        data["gateway"] = gateway
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def serve(make_app: Callable[..., Flask]) -> Iterator[Callable[..., Gateway]]:
    """serve(**environ) -> a Gateway: the app on a threaded HTTP server, stopped after the test."""
    started: list[Gateway] = []

    def start(**overrides: str) -> Gateway:
        app = make_app(LLM_PROVIDER="openai", LLM_MODEL="qwen3", LLM_READ_TIMEOUT="2", **overrides)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        gateway = Gateway(app, server)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.server.shutdown()
        gateway.server.server_close()
        with gateway.app.app_context():
            from app.gateway.meter import get_writer

            get_writer().flush()  # before make_app empties the tables


@pytest.fixture
def gateway(serve: Callable[..., Gateway], llm_server: FakeLLMServer, tmp_path: Path) -> Gateway:  # noqa: F811
    """Two public models on the fake upstream: qwen3 (OpenAI protocol, think stripped) and qwen3-ollama (Ollama)."""
    models = {
        "qwen3": {"provider": "openai", "base_url": llm_server.url, "model": "qwen3:32b", "read_timeout": 2,
                  "defaults": {"max_tokens": 256}},
        "qwen3-ollama": {"provider": "ollama", "base_url": llm_server.url, "model": "qwen3:8b", "read_timeout": 2},
        "qwen3-raw": {"provider": "openai", "base_url": llm_server.url, "model": "qwen3:32b", "think": "pass"},
    }
    return serve(OPENCLAW_CONFIG=models_inventory(tmp_path, models))
