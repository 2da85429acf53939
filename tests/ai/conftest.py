"""Fixtures for the assistant tests: the fake model server and an app pointed at it."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from app.infra.db import db
from tests.fakes.llm_fixtures import llm_server  # noqa: F401 - fixture
from tests.fakes.llm_server import FakeLLMServer


@pytest.fixture
def ai_app(make_app: Callable[..., Flask], feishu_server: Any, llm_server: FakeLLMServer) -> Iterator[Flask]:  # noqa: F811
    """The app on PostgreSQL + Redis with Feishu and the model both faked, app context pushed."""
    application = make_app(
        FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
        LLM_BASE_URL=llm_server.url, LLM_READ_TIMEOUT="2", LLM_STREAM_INTERVAL_MS="0",
    )
    with application.app_context():
        yield application
        db.session.remove()
