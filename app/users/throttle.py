"""Sign-in lockout: N failures within the lockout period lock an account or a client address for a while (in the database)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.infra.db import db, utcnow
from app.users.models import SignInThrottle


def locked_until(keys: list[str], now: datetime | None = None) -> datetime | None:
    """The latest lock in force over keys, or None."""
    now = now or utcnow()
    latest: datetime | None = None
    for key in keys:
        row = db.session.get(SignInThrottle, key, populate_existing=True)
        until = row.locked_until if row is not None else None
        if until is not None and until > now and (latest is None or until > latest):
            latest = until
    return latest


def fail(keys: list[str], *, limit: int, lockout: int, now: datetime | None = None) -> datetime | None:
    """Count one failure against each key (the caller commits); returns the lock it caused, if any."""
    now = now or utcnow()
    caused: datetime | None = None
    for key in keys:
        _ensure_row(key, now)
        row = db.session.get_one(SignInThrottle, key, with_for_update=True, populate_existing=True)
        until, first = row.locked_until, row.first_failure_at
        expired_lock = until is not None and until <= now
        stale_count = until is None and first is not None and first < now - timedelta(seconds=lockout)
        if expired_lock or stale_count:  # start counting afresh
            row.failures, row.locked_until, row.first_failure_at = 0, None, now
        row.failures += 1
        if row.failures >= limit and row.locked_until is None:
            row.locked_until = now + timedelta(seconds=lockout)
            caused = row.locked_until
    db.session.flush()
    return caused


def _ensure_row(key: str, now: datetime) -> None:
    """Create the counter row unless it exists; concurrent first failures do not collide (ON CONFLICT)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(insert(SignInThrottle).values(key=key, failures=0, first_failure_at=now)
                       .on_conflict_do_nothing(index_elements=["key"]))


def clear(keys: list[str]) -> None:
    """Forget failures for keys after a good sign-in (the caller commits)."""
    db.session.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(keys)))
