"""pytest plugin: the `feishu_server` fixture (load with pytest_plugins = ["tests.fakes.fixtures"])."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.feishu_server import FakeFeishuServer


@pytest.fixture
def feishu_server() -> Iterator[FakeFeishuServer]:
    """A fresh fake Feishu (app cli_test / secret) on an ephemeral port, stopped after the test."""
    server = FakeFeishuServer().start()
    try:
        yield server
    finally:
        server.stop()
