"""The dedup window in Redis: repeats of an alert seen within dedup_window never touch the database.

seen:{fingerprint} holds the open alert's id and expires dedup_window after the
last report, so a key that exists means "a repeat inside the window". Such repeats
only add to a Redis hash of pending counts (one round trip for a whole request);
the alert tick flushes those counts into the rows. A resolve deletes the key and
leaves a short tombstone, so a stale id is never remembered again for a closed alert.
Without Redis (embedded mode) every report takes the database path.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import redis as redis_lib
from sqlalchemy import bindparam, case, update

from app.alerts.models import Alert
from app.infra.db import db

logger = logging.getLogger(__name__)

PREFIX = "openclaw:alerts:"
SEEN = PREFIX + "seen:"
CLOSED = PREFIX + "closed:"
COUNTS = PREFIX + "counts"
LAST = PREFIX + "last"

# KEYS: seen keys; ARGV: window, now, then the report count of each key. Returns the alert id per folded key, else 0.
_FOLD = """
local out = {}
for i, key in ipairs(KEYS) do
  local id = redis.call('GET', key)
  if id and redis.call('EXISTS', ARGV[3] .. id) == 0 then
    redis.call('EXPIRE', key, ARGV[1])
    redis.call('HINCRBY', ARGV[4], id, ARGV[i + 5])
    redis.call('HSET', ARGV[5], id, ARGV[2])
    out[i] = tonumber(id)
  else
    out[i] = 0
  end
end
return out
"""

# KEYS: seen keys; ARGV: window, closed prefix, then the alert id of each key.
_REMEMBER = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', ARGV[2] .. ARGV[i + 2]) == 0 then
    redis.call('SET', key, ARGV[i + 2], 'EX', ARGV[1])
  end
end
return #KEYS
"""

_scripts: list[Any] = []


def _registered(client: redis_lib.Redis) -> tuple[Any, Any]:
    """The two scripts (their SHA is computed once); callers always pass their own client."""
    if not _scripts:
        _scripts.extend([client.register_script(_FOLD), client.register_script(_REMEMBER)])
    return _scripts[0], _scripts[1]


def fold_known(client: redis_lib.Redis, times: Mapping[str, int], window: int, now: datetime) -> dict[str, int]:
    """Count reports of fingerprints seen within the window in Redis; the folded ones with their alert ids."""
    if not times:
        return {}
    fingerprints = list(times)
    fold, _ = _registered(client)
    result = fold(keys=[SEEN + fp for fp in fingerprints],
                  args=[window, now.timestamp(), CLOSED, COUNTS, LAST, *(times[fp] for fp in fingerprints)],
                  client=client)
    return {fp: int(alert_id) for fp, alert_id in zip(fingerprints, result, strict=True) if alert_id}


def unfold(client: redis_lib.Redis, folded: Mapping[str, int], times: Mapping[str, int]) -> None:
    """Take back counts fold_known added, when the rest of the request could not be stored."""
    pipe = client.pipeline(transaction=False)
    for fingerprint, alert_id in folded.items():
        pipe.hincrby(COUNTS, str(alert_id), -times[fingerprint])
    pipe.execute()


def remember(client: redis_lib.Redis, open_ids: Mapping[str, int], window: int) -> None:
    """Start (or restart) the window of open alerts just written to the database."""
    if not open_ids:
        return
    _, script = _registered(client)
    fingerprints = list(open_ids)
    script(keys=[SEEN + fp for fp in fingerprints], args=[window, CLOSED, *(open_ids[fp] for fp in fingerprints)],
           client=client)


def forget(client: redis_lib.Redis, closed: Iterable[tuple[str, int]], window: int) -> None:
    """End the window of closed alerts: later reports open a new occurrence in the database."""
    pipe = client.pipeline(transaction=False)
    for fingerprint, alert_id in closed:
        pipe.set(f"{CLOSED}{alert_id}", 1, ex=max(window, 60))
        pipe.delete(SEEN + fingerprint)
    pipe.execute()


def flush(client: redis_lib.Redis) -> int:
    """Add the repeats counted in Redis to their alert rows; returns how many alerts changed."""
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(COUNTS).delete(COUNTS).hgetall(LAST).delete(LAST)
    counts, _, last, _ = pipe.execute()
    if not counts:
        return 0
    rows = [{"alert_id": int(k), "delta": int(v),
             "seen": datetime.fromtimestamp(float(last.get(k, 0) or 0), UTC)} for k, v in counts.items()]
    stmt = (update(Alert).where(Alert.id == bindparam("alert_id"))
            .values(count=Alert.count + bindparam("delta"),
                    last_seen=case((Alert.last_seen < bindparam("seen"), bindparam("seen")), else_=Alert.last_seen)))
    try:
        db.session.connection().execute(stmt, rows)
        db.session.commit()
    except Exception:
        db.session.rollback()
        restore = client.pipeline(transaction=False)
        for key, value in counts.items():
            restore.hincrby(COUNTS, key, int(value))
        restore.execute()
        raise
    return len(rows)
