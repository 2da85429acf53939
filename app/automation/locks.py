"""Named locks held by an execution: Redis SET NX when configured, a database row in embedded mode.

acquire() returns None when the lock is ours, else the holder's owner info, so
the second requester can be told who is deploying what.
"""
from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from app.automation.models import AutomationLock
from app.infra.db import db, utcnow
from app.infra.redis import get_redis

logger = logging.getLogger(__name__)

_PREFIX = "openclaw:lock:"
_RELEASE = """
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current)['execution_id'] == tonumber(ARGV[1]) then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def acquire(name: str, owner: dict[str, Any], ttl: int) -> dict[str, Any] | None:
    """Take the lock for owner['execution_id'] (re-entrant for the same id); None on success, else the holder."""
    redis = get_redis()
    if redis is not None:
        key = _PREFIX + name
        if redis.set(key, json.dumps(owner), nx=True, ex=max(1, ttl)):
            return None
        current = holder(name)
        if current is not None and current.get("execution_id") == owner.get("execution_id"):
            return None
        return current or {"execution_id": None}
    return _acquire_row(name, owner, ttl)


def _acquire_row(name: str, owner: dict[str, Any], ttl: int) -> dict[str, Any] | None:
    now = utcnow()
    db.session.execute(delete(AutomationLock).where(AutomationLock.name == name, AutomationLock.expires_at < now))
    db.session.add(AutomationLock(name=name, owner=owner, execution_id=owner.get("execution_id"),
                                  expires_at=now + timedelta(seconds=ttl)))
    try:
        db.session.commit()
        return None
    except IntegrityError:
        db.session.rollback()
    current = holder(name)
    if current is not None and current.get("execution_id") == owner.get("execution_id"):
        return None
    return current or {"execution_id": None}


def holder(name: str) -> dict[str, Any] | None:
    """The owner info of whoever holds the lock, or None when it is free."""
    redis = get_redis()
    if redis is not None:
        raw = redis.get(_PREFIX + name)
        return json.loads(raw) if raw else None
    row = db.session.get(AutomationLock, name, populate_existing=True)
    if row is None or row.expires_at < utcnow():
        return None
    return dict(row.owner)


def release(name: str, execution_id: int) -> None:
    """Free the lock if execution_id holds it (a stale holder never frees someone else's lock)."""
    redis = get_redis()
    if redis is not None:
        redis.eval(_RELEASE, 1, _PREFIX + name, execution_id)
        return
    db.session.execute(
        delete(AutomationLock).where(AutomationLock.name == name, AutomationLock.execution_id == execution_id)
    )
    db.session.commit()
