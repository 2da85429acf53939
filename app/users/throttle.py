"""Sign-in throttling, in the database.

Client addresses: N failures within the lockout period lock the address for that period (fail).
Accounts: progressive back-off instead (fail_progressive): from the Nth failure in a row each failure locks
the account for base * 2**(failures - N) seconds, capped, so a stranger guessing from many addresses is slowed
to one guess per cap while the owner is never locked out for long.
"""
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


def backoff_seconds(failures: int, *, limit: int, base: int, cap: int) -> int:
    """How long the failures-th failure in a row locks an account: 0 below limit, then doubling to cap."""
    if failures < limit:
        return 0
    return min(cap, base * 2 ** min(failures - limit, 32))


def fail_progressive(key: str, *, limit: int, base: int, cap: int, forget_after: int,
                     now: datetime | None = None) -> datetime | None:
    """Count one failure against an account key (the caller commits); returns the back-off lock it caused.

    A run of failures is forgotten once forget_after seconds pass without a lock in force (or, before the
    first lock, since the run began).
    """
    now = now or utcnow()
    _ensure_row(key, now)
    row = db.session.get_one(SignInThrottle, key, with_for_update=True, populate_existing=True)
    until, first = row.locked_until, row.first_failure_at  # UTCDateTime: aware on both databases
    quiet_since = until if until is not None else first
    if quiet_since is not None and quiet_since <= now - timedelta(seconds=forget_after):
        row.failures, row.locked_until, row.first_failure_at = 0, None, now
    row.failures += 1
    seconds = backoff_seconds(row.failures, limit=limit, base=base, cap=cap)
    caused = None
    if seconds:
        caused = now + timedelta(seconds=seconds)
        row.locked_until = caused
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
