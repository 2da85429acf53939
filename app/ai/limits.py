"""Per-user limits shared across processes through Redis: messages per minute, tokens per day."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis as redis_lib
from flask import current_app

from app import localtime
from app.errors import BotError
from app.infra.redis import get_redis

EXTENSION = "openclaw.ai.limits"
_PREFIX = "openclaw:ai:limit:"


class LimitExceeded(BotError):
    """The sender has used up their assistant allowance for now."""


class _LocalCounters:
    """In-process counters with expiry (embedded mode: one process)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def incr(self, key: str, amount: int, ttl: int, now: float) -> int:
        with self._lock:
            expires, value = self._data.get(key, (0.0, 0))
            if expires <= now:
                expires, value = now + ttl, 0
            value += amount
            self._data[key] = (expires, value)
            if len(self._data) > 10_000:
                self._data = {k: v for k, v in self._data.items() if v[0] > now}
            return value

    def get(self, key: str, now: float) -> int:
        with self._lock:
            expires, value = self._data.get(key, (0.0, 0))
            return value if expires > now else 0


class Limits:
    """Checks and counts one user's use of the assistant."""

    def __init__(self, redis: redis_lib.Redis | None, *, per_minute: int, tokens_per_day: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis, self._local, self._clock = redis, _LocalCounters(), clock
        self.per_minute, self.tokens_per_day = per_minute, tokens_per_day

    def _incr(self, key: str, amount: int, ttl: int) -> int:
        if self._redis is None:
            return self._local.incr(key, amount, ttl, self._clock())
        pipe = self._redis.pipeline()
        pipe.incrby(_PREFIX + key, amount)
        pipe.expire(_PREFIX + key, ttl, nx=True)
        value, _ = pipe.execute()
        return int(value)

    def _get(self, key: str) -> int:
        if self._redis is None:
            return self._local.get(key, self._clock())
        return int(self._redis.get(_PREFIX + key) or 0)

    def _day(self) -> str:
        """Today's date in local time (TIMEZONE): daily allowances reset at local midnight."""
        return localtime.local(datetime.fromtimestamp(self._clock(), UTC)).strftime("%Y%m%d")

    def check_message(self, open_id: str) -> None:
        """Count one message; LimitExceeded when over the per-minute or the daily token allowance."""
        if self.tokens_per_day and self._get(f"tokens:{open_id}:{self._day()}") >= self.tokens_per_day:
            raise LimitExceeded(
                f"{open_id} is over {self.tokens_per_day} tokens today",
                user_message=f"You have used your assistant allowance for today ({self.tokens_per_day} tokens). "
                f"It resets at 00:00 ({localtime.zone().key}); slash commands still work.",
            )
        if self.per_minute:
            minute = int(self._clock() // 60)
            if self._incr(f"rate:{open_id}:{minute}", 1, 120) > self.per_minute:
                raise LimitExceeded(
                    f"{open_id} is over {self.per_minute} messages a minute",
                    user_message=f"Too many questions: the limit is {self.per_minute} a minute. "
                    "Wait a moment and ask again; slash commands still work.",
                )

    def add_tokens(self, open_id: str, tokens: int) -> int:
        """Count tokens spent today; the new total."""
        if not tokens:
            return 0
        return self._incr(f"tokens:{open_id}:{self._day()}", tokens, 2 * 86400)


def get_limits() -> Limits:
    """The app's limits (in-process counters live as long as the app)."""
    limits: Limits | None = current_app.extensions.get(EXTENSION)
    if limits is None:
        config: dict[str, Any] = current_app.config
        limits = Limits(get_redis(), per_minute=config["LLM_RATE_PER_MINUTE"],
                        tokens_per_day=config["LLM_TOKENS_PER_DAY"])
        current_app.extensions[EXTENSION] = limits
    return limits
