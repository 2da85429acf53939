"""A per-minute counter shared across processes through Redis, in-process without Redis.

Fixed one-minute windows keyed by (name, minute): one INCR and one EXPIRE per hit, so
checking costs a single round trip. A caller asks `hit(key, limit)` and gets back whether
the hit is within the limit, how many hits the window has seen and when it resets.
Embedded mode has one process, so in-process counters give the same answers there.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis as redis_lib

WINDOW = 60


@dataclass(frozen=True)
class Hit:
    """The answer for one counted hit."""

    allowed: bool
    count: int
    limit: int
    retry_after: int  # whole seconds until the window resets (at least 1)

    @property
    def first_refusal(self) -> bool:
        """True for the first hit over the limit in this window (log or audit once, not per hit)."""
        return self.count == self.limit + 1


class _LocalWindows:
    """In-process counters with expiry, bounded in size."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def incr(self, key: str, expires: float, now: float) -> int:
        with self._lock:
            until, value = self._data.get(key, (0.0, 0))
            if until <= now:
                until, value = expires, 0
            value += 1
            self._data[key] = (until, value)
            if len(self._data) > 10_000:
                self._data = {k: v for k, v in self._data.items() if v[0] > now}
            return value


class PerMinuteCounter:
    """Counts hits per key per clock minute; Redis when given, else this process only."""

    def __init__(self, redis: redis_lib.Redis | None, prefix: str, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis, self._prefix, self._clock = redis, prefix, clock
        self._local = _LocalWindows()

    def hit(self, key: str, limit: int) -> Hit:
        """Count one hit for key; allowed while the window's count is at most limit (0 = no limit)."""
        now = self._clock()
        minute = int(now // WINDOW)
        retry_after = max(1, int((minute + 1) * WINDOW - now + 0.999))
        if limit <= 0:
            return Hit(True, 0, 0, retry_after)
        window_key = f"{self._prefix}{key}:{minute}"
        if self._redis is None:
            count = self._local.incr(window_key, (minute + 1) * WINDOW, now)
        else:
            pipe = self._redis.pipeline()
            pipe.incr(window_key)
            pipe.expire(window_key, 2 * WINDOW, nx=True)
            value, _ = pipe.execute()
            count = int(value)
        return Hit(count <= limit, count, limit, retry_after)
