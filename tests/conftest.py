"""Shared fixtures: real PostgreSQL and Redis, the app factory, a worker that drains the queue."""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.infra.db import db

pytest_plugins = ["tests.fakes.fixtures"]

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
INVENTORY = DATA / "inventory.yaml"
VERIFICATION_TOKEN = "rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV"
ENCRYPT_KEY = "test key"

PG_SERVER_URL = os.environ.get("OPENCLAW_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("OPENCLAW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _with_database(url: str, name: str) -> str:
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head, dropped afterwards."""
    name = f"openclaw_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = _with_database(PG_SERVER_URL, name)
    app = create_app(base_environ(url))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def base_environ(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment a test app runs with; overrides win."""
    environ = {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "test-secret-key",
        "OPENCLAW_CONFIG": str(INVENTORY),
        "FEISHU_VERIFICATION_TOKEN": VERIFICATION_TOKEN,
        "FEISHU_ENCRYPT_KEY": ENCRYPT_KEY,
        "FEISHU_BOT_OPEN_ID": "ou_bot_open_id_example",
        "LOG_LEVEL": "INFO",
    }
    environ.update(overrides)
    return {k: v for k, v in environ.items() if v != ""}


@pytest.fixture(autouse=True)
def _outbox_not_paused() -> Iterator[None]:
    """A Feishu failure in one test must not pause inline delivery in the next (the pause is per process)."""
    from app.outbox.service import PAUSE

    PAUSE.clear()
    yield
    PAUSE.clear()


@pytest.fixture
def redis_client() -> Iterator[redis_lib.Redis]:
    """The test Redis database, empty at the start and end of each test."""
    client = redis_lib.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _truncate_all() -> None:
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()


@pytest.fixture
def make_app(pg_url: str, redis_client: redis_lib.Redis) -> Iterator[Callable[..., Flask]]:
    """Build apps on the session database; every table is emptied after the test."""
    apps: list[Flask] = []

    def build(**overrides: str) -> Flask:
        app = create_app(base_environ(pg_url, **overrides))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            _truncate_all()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask], feishu_server: Any) -> Iterator[Flask]:
    """The app on PostgreSQL + Redis, talking to the fake Feishu server, with an app context pushed."""
    application = make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url)
    with application.app_context():
        yield application
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def drain(app: Flask, redis_client: redis_lib.Redis) -> Callable[[], None]:
    """Run every queued job now in this process (an RQ worker in burst mode)."""
    from rq import SimpleWorker

    from app.inbox.handoff import drain_inbox
    from app.infra import queue as queue_module

    def run() -> None:
        queue_module._worker_app = app
        drain_inbox(app)
        queues = list(app.extensions[queue_module.EXTENSION].queues.values())
        worker = SimpleWorker(queues, connection=redis_client)
        worker.work(burst=True, with_scheduler=False)

    return run
