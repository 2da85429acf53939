"""0006_incidents: on the line to the single head; up, down and up again on SQLite, matching the incident models."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from app.incidents import models
from app.infra.db import db
from tests.conftest import base_environ
from tests.test_migrations import _head

OURS = {models.Incident.__tablename__, models.IncidentNote.__tablename__}


def _our_differences() -> list[object]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, db.metadata)
    return [d for d in diffs if OURS & _names(d)]


def _names(diff: object) -> set[str]:
    """Every table name an autogenerate difference mentions (as a string, a Table, or an index's table)."""
    if isinstance(diff, (list, tuple)):
        return set().union(*(_names(part) for part in diff)) if diff else set()
    if isinstance(diff, str):
        return {diff}
    table = getattr(diff, "table", None)
    return {n for n in (getattr(diff, "name", None), getattr(table, "name", None)) if isinstance(n, str)}


def _tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def test_0006_is_on_the_line_to_the_single_head() -> None:
    from alembic.script import ScriptDirectory

    from tests.test_migrations import _alembic_config

    script = ScriptDirectory.from_config(_alembic_config())
    assert "0006_incidents" in {rev.revision for rev in script.walk_revisions(base="base", head=_head())}


def test_0006_goes_up_down_and_up_on_sqlite(tmp_path: Path) -> None:
    application = create_app(base_environ(f"sqlite:///{tmp_path}/openclaw.db", REDIS_URL=""))
    with application.app_context():
        upgrade()
        assert OURS <= _tables() and _our_differences() == []
        downgrade(revision="0005_admin")
        assert not OURS & _tables()
        upgrade()
        assert OURS <= _tables() and _our_differences() == []
        db.engine.dispose()
