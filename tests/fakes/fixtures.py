"""pytest plugin: `feishu_server`, `longconn` and `start_connector` (pytest_plugins = ["tests.fakes.fixtures"])."""
from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask

from tests.fakes.feishu_longconn import FakeLongConnServer
from tests.fakes.feishu_server import FakeFeishuServer

if TYPE_CHECKING:
    from app.feishu.longconn.connector import Connector


@pytest.fixture
def feishu_server() -> Iterator[FakeFeishuServer]:
    """A fresh fake Feishu (app cli_test / secret) on an ephemeral port, stopped after the test."""
    server = FakeFeishuServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def longconn(feishu_server: Any) -> Iterator[FakeLongConnServer]:
    """The platform's WebSocket side; discovery on feishu_server hands out its URLs."""
    server = FakeLongConnServer().start()
    feishu_server.attach_longconn(server)
    try:
        yield server
    finally:
        server.stop()


class Running:
    """A connector running in a thread; .error holds what run() raised."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.connector.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def stop(self) -> None:
        self.connector.stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "connector did not stop"


@pytest.fixture
def start_connector() -> Iterator[Callable[..., Running]]:
    """start(app, name=...) runs a connector against the app's FEISHU_BASE_URL until the test ends."""
    running: list[Running] = []

    def start(app: Flask, name: str = "test-connector", **kwargs: Any) -> Running:
        from app.feishu.longconn.connector import Connector

        config = app.config
        connector = Connector(app, name=name, base_url=config["FEISHU_BASE_URL"], app_id=config["FEISHU_APP_ID"],
                              app_secret=config["FEISHU_APP_SECRET"], rng=random.Random(7), **kwargs)
        item = Running(connector)
        item.thread.start()
        running.append(item)
        return item

    yield start
    for item in running:
        item.stop()
