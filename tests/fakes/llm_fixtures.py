"""pytest plugin: the `llm_server` fixture (a FakeLLMServer speaking Ollama and OpenAI protocols)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.llm_server import FakeLLMServer


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    """A fresh fake model server on an ephemeral port, stopped after the test."""
    server = FakeLLMServer().start()
    try:
        yield server
    finally:
        server.stop()
