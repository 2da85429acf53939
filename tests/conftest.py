"""Shared fixtures: real PostgreSQL and Redis, the app factory, a worker that drains the queue.

Apps are built on PostgreSQL + Redis by default. A test (or module) marked
`@pytest.mark.both_databases` runs twice through the `db_backend` parameter:
once there and once in embedded mode, as scripts/run.sh runs it (an SQLite
file in a tmp dir, no REDIS_URL, jobs on the in-process executor).
"""
from __future__ import annotations

import os
import shutil
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
# Long and random-looking: outside embedded mode load_config refuses short or placeholder secrets.
TEST_SECRET_KEY = "Hq7vX2mPz9LkR4tW8yNc3sJd6fBg1uEa5oTi0"

PG_SERVER_URL = os.environ.get("OPENCLAW_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("OPENCLAW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

POSTGRESQL, SQLITE = "postgresql", "sqlite"
DB_BACKENDS = (POSTGRESQL, SQLITE)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_databases: run on PostgreSQL + Redis and on SQLite in embedded mode (db_backend)")
    config.addinivalue_line(
        "markers", "postgresql_only(reason): in a both_databases module, run on PostgreSQL + Redis only")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked both_databases that build an app get one run per database backend.

    A test in a marked module that builds no app (pure logic) runs once; one marked
    postgresql_only (what it tests needs Redis or several processes) runs on PostgreSQL.
    """
    definition = metafunc.definition
    if "db_backend" not in metafunc.fixturenames or not definition.get_closest_marker("both_databases"):
        return
    only = definition.get_closest_marker("postgresql_only")
    metafunc.parametrize("db_backend", (POSTGRESQL,) if only else DB_BACKENDS, indirect=True)


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
        "SECRET_KEY": TEST_SECRET_KEY,
        "OPENCLAW_CONFIG": str(INVENTORY),
        "FEISHU_VERIFICATION_TOKEN": VERIFICATION_TOKEN,
        "FEISHU_ENCRYPT_KEY": ENCRYPT_KEY,
        "FEISHU_BOT_OPEN_ID": "ou_bot_open_id_example",
        "LOG_LEVEL": "INFO",
    }
    environ.update(overrides)
    return {k: v for k, v in environ.items() if v != ""}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head once per session; every embedded-mode test gets its own copy."""
    from flask_migrate import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "openclaw.db"
    app = create_app(base_environ(f"sqlite:///{path}", REDIS_URL=""))
    with app.app_context():
        upgrade()
        db.engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """`postgresql` (PostgreSQL + Redis), or `sqlite` (embedded mode) for tests marked both_databases."""
    return str(getattr(request, "param", POSTGRESQL))


@pytest.fixture
def database_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The DATABASE_URL of this test's apps: the session PostgreSQL database, or a fresh SQLite file."""
    if db_backend == POSTGRESQL:
        return str(request.getfixturevalue("pg_url"))
    path = tmp_path / "openclaw.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


def embedded(app: Flask) -> bool:
    """True when app runs jobs in-process (no Redis), as scripts/run.sh does."""
    from app.infra.queue import EXTENSION, InProcessBackend

    return isinstance(app.extensions[EXTENSION], InProcessBackend)


def wait_for_jobs(app: Flask, timeout: float = 30.0) -> None:
    """Embedded mode: block until the in-process executor has run every job queued so far."""
    from app.infra.queue import EXTENSION

    assert app.extensions[EXTENSION].wait_idle(timeout), f"in-process jobs still running after {timeout}s"


def settle_jobs(app: Flask) -> None:
    """At the end of an embedded-mode test: let in-process jobs finish while the fakes still run."""
    if embedded(app):
        wait_for_jobs(app)


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
def make_app(db_backend: str, database_url: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Flask]]:
    """Build apps on this test's database (see db_backend); nothing of the test is left afterwards.

    PostgreSQL apps share the session database and Redis, and every table is emptied
    after the test; embedded-mode apps get no REDIS_URL and their own SQLite file.
    """
    if db_backend == POSTGRESQL:
        request.getfixturevalue("redis_client")  # Redis is emptied before and after the test
    apps: list[Flask] = []

    def build(**overrides: str) -> Flask:
        environ = {"REDIS_URL": ""} if db_backend == SQLITE else {}
        app = create_app(base_environ(database_url, **{**environ, **overrides}))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield build
    from app.infra.queue import EXTENSION

    for app in apps:
        if embedded(app):
            wait_for_jobs(app)
            app.extensions[EXTENSION].pool.shutdown(wait=True)
        with app.app_context():
            if db_backend == POSTGRESQL:
                _truncate_all()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask], feishu_server: Any) -> Iterator[Flask]:
    """The app on PostgreSQL + Redis, talking to the fake Feishu server, with an app context pushed."""
    application = make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url)
    with application.app_context():
        yield application
        settle_jobs(application)
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def drain(app: Flask, request: pytest.FixtureRequest) -> Callable[[], None]:
    """Run every queued job now in this process (an RQ worker in burst mode), or wait for the
    in-process executor to finish them in embedded mode."""
    if embedded(app):
        return lambda: wait_for_jobs(app)
    from rq import SimpleWorker

    from app.infra.handoff import drain_all
    from app.infra import queue as queue_module

    redis_client = request.getfixturevalue("redis_client")

    def run() -> None:
        queue_module._worker_app = app
        drain_all(app)
        queues = list(app.extensions[queue_module.EXTENSION].queues.values())
        worker = SimpleWorker(queues, connection=redis_client)
        worker.work(burst=True, with_scheduler=False)

    return run
