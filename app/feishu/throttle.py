"""Outbound rate limiting: sliding-window logs in Redis (all processes) or in memory (one process)."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable

import redis

logger = logging.getLogger(__name__)

KEY_PREFIX = "openclaw:throttle:"
CHAT_RATE = 5  # per chat and per user, shared by every bot (feishu-protocol.md 4.3)
APP_RATE = 50  # per app per tenant
MESSAGE_RATE = 5  # PATCH on one message
# Slots that bulk work (app/infra/lanes.py) leaves free for replies to people and click updates.
APP_RESERVE = 15
CHAT_RESERVE = 1

# KEYS[1] window key; ARGV rate, window in microseconds, unique member.
# Returns 0 when a slot was taken, else microseconds until the oldest entry leaves the window.
# Redis' own clock is used so that every process and host agrees on "now".
_SLIDING_WINDOW = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < rate then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


def chat_key(chat_id: str) -> str:
    """Throttle key for sends and replies into one chat."""
    return f"chat:{chat_id}"


def user_key(user_id: str) -> str:
    """Throttle key for sends to one user (p2p)."""
    return f"user:{user_id}"


def app_key(app_id: str) -> str:
    """Throttle key for every call of one app."""
    return f"app:{app_id}"


def message_key(message_id: str) -> str:
    """Throttle key for PATCH updates of one message."""
    return f"msg:{message_id}"


class _LocalWindows:
    """Thread-safe sliding-window logs for one process."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[str, deque[float]] = {}

    def reserve(self, key: str, rate: int, window: float) -> float:
        """Take a slot (0.0) or return the seconds until one frees up."""
        with self._lock:
            now = self._clock()
            if len(self._logs) > 4096:
                self._prune(now, window)
            log = self._logs.setdefault(key, deque())
            while log and log[0] <= now - window:
                log.popleft()
            if len(log) < rate:
                log.append(now)
                return 0.0
            return log[0] + window - now

    def _prune(self, now: float, window: float) -> None:
        """Forget keys whose whole log has left the window (message keys pile up otherwise)."""
        for key in [k for k, log in self._logs.items() if not log or log[-1] <= now - window]:
            del self._logs[key]


class Throttle:
    """Blocks callers so that at most `rate` calls per `per` seconds pass for each key."""

    def __init__(
        self,
        redis_client: redis.Redis | None = None,
        *,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`margin` widens each window slightly so network jitter cannot push 6 calls into 1 s."""
        self._redis = redis_client
        self._script = redis_client.register_script(_SLIDING_WINDOW) if redis_client is not None else None
        self._local = _LocalWindows(clock)
        self._margin = margin
        self._sleep = sleep

    def reserve(self, key: str, rate: int, per: float = 1.0) -> float:
        """Take a slot now and return 0.0, or take nothing and return the seconds to wait."""
        if rate < 1 or per <= 0:
            raise ValueError("rate must be >= 1 and per > 0")
        window = per + self._margin
        if self._script is not None:
            try:
                member = f"{time.time():.6f}:{uuid.uuid4().hex}"
                wait_us = self._script(keys=[KEY_PREFIX + key], args=[rate, int(window * 1_000_000), member])
                return int(wait_us) / 1_000_000
            except redis.RedisError as exc:
                logger.warning("throttle falling back to in-process limits: %s", type(exc).__name__)
        return self._local.reserve(key, rate, window)

    def acquire(self, key: str, rate: int, per: float = 1.0) -> None:
        """Block (sleeping) until a slot for `key` is free, then take it."""
        while (wait := self.reserve(key, rate, per)) > 0:
            self._sleep(wait)
