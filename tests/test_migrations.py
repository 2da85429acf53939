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


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_existing_accounts_each_get_their_own_session_secret(database: str, tmp_path: Path,
                                                              fresh_pg_url: str) -> None:
    """i10_session_secret replaces the shared session_version with a random secret per row (old cookies end)."""
    url = f"sqlite:///{tmp_path}/openclaw.db" if database == "sqlite" else fresh_pg_url
    application = create_app(base_environ(url, REDIS_URL="") if database == "sqlite" else base_environ(url))
    with application.app_context():
        upgrade(revision="0006_incidents")
        with db.engine.begin() as connection:
            for name in ("ann", "ben", "cid"):
                connection.execute(sa.text(
                    "INSERT INTO users (name, role, source, created_at, updated_at, session_version)"
                    " VALUES (:name, 'user', 'inventory', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)"), {"name": name})
        upgrade()
        with db.engine.connect() as connection:
            secrets = connection.execute(sa.text("SELECT session_secret FROM users")).scalars().all()
        assert len(secrets) == 3 and len(set(secrets)) == 3 and all(len(s) == 64 for s in secrets)

        from app.users.models import User
        from app.users.service import sync_from_inventory

        sync_from_inventory()  # the inventory upsert works on this dialect and rotates on a role change
        carol = db.session.execute(sa.select(User).where(User.open_id == "ou_carol")).scalar_one()
        before = carol.session_secret
        db.session.execute(sa.update(User).where(User.id == carol.id).values(role="user"))
        db.session.commit()
        sync_from_inventory()
        db.session.expire_all()
        assert db.session.get(User, carol.id).session_secret != before
        db.session.remove()
        db.engine.dispose()
