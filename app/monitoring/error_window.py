"""Handled errors counted in 10-second buckets: Redis across processes, process memory without it.

The in-app error-rate rule (selfmon.py) reads this window; Prometheus reads openclaw_errors_total.
"""
from __future__ import annotations

import threading
import time
from collections import deque

import redis as redis_lib

BUCKET = 10  # seconds
KEEP = 900  # seconds a bucket lives in Redis
BACKOFF = 30.0  # seconds without trying Redis after it failed: counting must not slow callers down
PREFIX = "openclaw:selfmon:errors:"

_redis: redis_lib.Redis | None = None
_local: deque[float] = deque(maxlen=100_000)
_lock = threading.Lock()
_redis_down_until = 0.0


def bind(client: redis_lib.Redis | None) -> None:
    """Count into this Redis (None: process memory); called once per app."""
    global _redis, _redis_down_until
    _redis, _redis_down_until = client, 0.0
    with _lock:
        _local.clear()


def note(component: str, kind: str) -> None:
    """One error now (the arguments are for the metrics listener signature)."""
    global _redis_down_until
    now = time.time()
    if _redis is None:
        with _lock:
            _local.append(now)
        return
    if now < _redis_down_until:
        return
    key = f"{PREFIX}{int(now) // BUCKET}"
    try:
        pipe = _redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, KEEP)
        pipe.execute()
    except redis_lib.RedisError:
        # The Prometheus counter still has it; the in-app rule misses errors while Redis is down.
        _redis_down_until = now + BACKOFF


def count(seconds: int, now: float | None = None) -> int:
    """Errors in the last `seconds` (whole buckets)."""
    now = time.time() if now is None else now
    if _redis is None:
        with _lock:
            return sum(1 for t in _local if t >= now - seconds)
    last = int(now) // BUCKET
    keys = [f"{PREFIX}{b}" for b in range(last - seconds // BUCKET + 1, last + 1)]
    return sum(int(v) for v in _redis.mget(keys) if v is not None)
