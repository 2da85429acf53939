"""Migrations run up, down and up again on SQLite and PostgreSQL, and leave exactly the models' schema."""
from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade

import app as app_package
from app import create_app
from app.infra.db import db
from tests.conftest import PG_SERVER_URL, ROOT, _with_database, base_environ


def _import_all_models() -> None:
    """Every app.*.models module, so db.metadata holds every table a migration creates."""
    for module in pkgutil.walk_packages(app_package.__path__, "app."):
        if module.name.endswith(".models"):
            importlib.import_module(module.name)


def _tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def _model_tables() -> set[str]:
    return {table.name for table in db.metadata.sorted_tables}


def _differences() -> list[object]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, db.metadata))


def _head() -> str:
    script = ScriptDirectory.from_config(_alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    return heads[0]


def _alembic_config():  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


def _current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _up_down_up(application: Flask) -> None:
    _import_all_models()
    with application.app_context():
        assert _tables() == set()
        upgrade()
        assert _current_revision() == _head()
        assert _tables() == _model_tables()
        assert _differences() == []

        downgrade(revision="base")
        assert _current_revision() is None
        assert _tables() == set()

        upgrade()
        assert _current_revision() == _head()
        assert _tables() == _model_tables()
        assert _differences() == []
        db.engine.dispose()


def test_the_migrations_have_a_single_head() -> None:
    assert _head()


def test_migrations_go_up_down_and_up_on_sqlite_and_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/openclaw.db"
    _up_down_up(create_app(base_environ(url, REDIS_URL="")))


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """An empty PostgreSQL database of our own (not the session one), dropped afterwards."""
    name = f"openclaw_migr_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(PG_SERVER_URL, name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_go_up_down_and_up_on_postgresql_and_match_the_models(fresh_pg_url: str) -> None:
    _up_down_up(create_app(base_environ(fresh_pg_url)))


def test_the_postgresql_audit_table_is_append_only_after_migrating_and_not_after_downgrading(
    fresh_pg_url: str,
) -> None:
    application = create_app(base_environ(fresh_pg_url))
    with application.app_context():
        upgrade()
        with db.engine.connect() as connection:
            triggers = connection.execute(sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal"
            )).scalars().all()
        assert "audit_events_append_only" in triggers
        downgrade(revision="base")
        with db.engine.connect() as connection:
            functions = connection.execute(sa.text(
                "SELECT proname FROM pg_proc WHERE proname = 'audit_events_append_only'")).scalars().all()
        assert functions == []
        db.engine.dispose()
