"""UTCDateTime: every timestamp column stores UTC and reads back aware UTC, on PostgreSQL and SQLite alike."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask import Flask

from app.alerts.models import Silence
from app.infra.db import UTCDateTime, db, render_migration_item, utcnow

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode

BEIJING = timezone(timedelta(hours=8))


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    application = make_app()
    with application.app_context():
        yield application
        db.session.remove()


def _silence(ends_at: datetime) -> Silence:
    silence = Silence(matchers={"alertname": "X"}, created_by="ou_bob", ends_at=ends_at)
    db.session.add(silence)
    db.session.commit()
    return silence


def test_every_timestamp_column_of_every_model_is_utc_aware() -> None:
    import app.ai.models
    import app.alerts.models
    import app.audit.models
    import app.automation.models
    import app.inbox.models
    import app.incidents.models
    import app.kb.models
    import app.users.models  # noqa: F401 - every model registered on the metadata

    columns = [f"{table.name}.{column.name}" for table in db.metadata.sorted_tables for column in table.columns
               if isinstance(column.type, UTCDateTime)]
    plain = [f"{table.name}.{column.name}" for table in db.metadata.sorted_tables for column in table.columns
             if isinstance(column.type, sa.DateTime)]
    assert len(columns) > 40 and plain == []


def test_a_new_migration_spells_the_column_as_plain_timestamptz() -> None:
    from alembic.autogenerate import render_python_code
    from alembic.operations import ops

    upgrade = ops.UpgradeOps(ops=[ops.AddColumnOp("things", sa.Column("seen_at", UTCDateTime(), nullable=True))])
    code = render_python_code(upgrade, render_item=render_migration_item)
    assert "sa.DateTime(timezone=True)" in code and "UTCDateTime" not in code


def test_a_value_in_another_zone_is_stored_as_utc_and_read_back_aware(app: Flask) -> None:
    silence = _silence(datetime(2026, 12, 4, 8, 30, 15, 250000, tzinfo=BEIJING))
    db.session.expire_all()
    stored = db.session.get(Silence, silence.id)
    assert stored is not None
    assert stored.ends_at == datetime(2026, 12, 4, 0, 30, 15, 250000, tzinfo=UTC)
    assert stored.ends_at.utcoffset() == timedelta(0) and stored.created_at.tzinfo is not None
    raw = db.session.execute(sa.text("SELECT ends_at FROM alert_silences")).scalar_one()
    if isinstance(raw, str):  # SQLite keeps text: it must be the UTC wall time, so text order is time order
        assert raw.startswith("2026-12-04 00:30:15.250000")


def test_sql_comparisons_agree_with_time_order_across_zones(app: Flask) -> None:
    early = _silence(datetime(2026, 12, 4, 9, 0, tzinfo=BEIJING))  # 01:00 UTC
    late = _silence(datetime(2026, 12, 4, 2, 0, tzinfo=UTC))
    cutoff = datetime(2026, 12, 4, 9, 30, tzinfo=BEIJING)  # 01:30 UTC
    after = db.session.scalars(sa.select(Silence.id).where(Silence.ends_at > cutoff)).all()
    ordered = db.session.scalars(sa.select(Silence.id).order_by(Silence.ends_at)).all()
    assert after == [late.id] and ordered == [early.id, late.id]


def test_an_orm_update_where_on_loaded_rows_compares_with_utcnow(app: Flask) -> None:
    """The embedded-mode bug: the ORM evaluates the WHERE against loaded objects in Python."""
    silence = _silence(utcnow() + timedelta(hours=1))
    assert silence.ends_at > utcnow()  # loaded and in the session
    result = db.session.execute(
        sa.update(Silence).where(Silence.id == silence.id, Silence.ends_at > utcnow()).values(removed_by="ou_bob"))
    db.session.commit()
    assert result.rowcount == 1 and silence.removed_by == "ou_bob"


def test_a_naive_value_is_refused_and_nothing_is_stored(app: Flask) -> None:
    db.session.add(Silence(matchers={}, created_by="ou_bob", ends_at=datetime(2026, 12, 4, 8, 0)))
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalars(sa.select(Silence)).all() == []
