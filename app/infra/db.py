"""SQLAlchemy and Alembic wiring: Base with stable constraint names, db, migrate, UTCDateTime."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


def utcnow() -> datetime:
    """Timezone-aware now in UTC; every timestamp we store is UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that is the same on PostgreSQL and SQLite: UTC in, aware UTC out.

    PostgreSQL's timestamptz returns aware values, but SQLite stores text and hands back
    naive ones (dropping any offset it is given), so comparing what was read with utcnow()
    raised TypeError there, in Python code and in the ORM's in-session evaluation of
    update(...).where(...). Values are converted to UTC before they are stored and come
    back aware in UTC on both; a naive value is refused rather than guessed at. The DDL
    is DateTime(timezone=True)'s, so no migration is needed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime takes a datetime, not {type(value).__name__}")
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: store timezone-aware values (utcnow())")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: stored as UTC text without an offset
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def render_migration_item(type_: str, obj: Any, _context: Any) -> str | bool:
    """Alembic autogenerate hook: new migrations spell UTCDateTime as the DDL it stands for,
    so migration files never import app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL and a busy timeout let web threads and the in-process worker share one SQLite file."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def init_app(app: Flask) -> None:
    """Bind db and migrations to app; the SQLite file and its folder are created (or tightened) owner-only."""
    uri: str = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and uri != "sqlite:///:memory:":
        from pathlib import Path

        from app.infra.private_files import secure_sqlite

        secure_sqlite(Path(uri.removeprefix("sqlite:///")))
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)


def _migrations_dir() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "migrations"


def is_postgres() -> bool:
    """True when the bound database is PostgreSQL (advisory locks, SKIP LOCKED)."""
    return db.engine.dialect.name == "postgresql"
