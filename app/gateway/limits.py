"""Counters and leases behind the gateway's limits: in Redis (shared by every process) or in-process.

A lease is a member of a sorted set scored by its expiry: a crashed process's leases lapse
on their own instead of holding a concurrency slot forever. Long streams refresh theirs.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis as redis_lib

PREFIX = "openclaw:gw:"

# KEYS: lease sets; ARGV: now, expires, lease, cap per key. Returns 0 (leased in all) or the 1-based full one.
_ACQUIRE = """
local now, expires, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, expires, lease)
  redis.call('EXPIRE', key, math.ceil(expires - now) + 60)
end
return 0
"""
# One round trip to admit a call. KEYS: rate counters, token counters, flags, lease sets, [upstream lease set].
# ARGV: now, expires, lease, #rates, #tokens, #flags, #leases, has upstream, rate limits, token limits, caps, [up cap].
# Returns {0,0} admitted (upstream slot too), {1,i} over rate i, {2,i} over tokens i, {3,0} flagged,
# {4,i} lease set i full (nothing taken), {5,0} admitted but the upstream is full (its queue is the caller's).
_ADMIT = """
local now, expires, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local nr, nt, nf, nl, up = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
for i = 1, nf do
  if redis.call('EXISTS', KEYS[nr + nt + i]) == 1 then return {3, 0} end
end
for i = 1, nr do
  local v = redis.call('INCR', KEYS[i])
  if v == 1 then redis.call('EXPIRE', KEYS[i], 120) end
  if v > tonumber(ARGV[8 + i]) then return {1, i} end
end
for i = 1, nt do
  local limit = tonumber(ARGV[8 + nr + i])
  if limit > 0 and tonumber(redis.call('GET', KEYS[nr + i]) or '0') >= limit then return {2, i} end
end
local base, caps = nr + nt + nf, 8 + nr + nt
for i = 1, nl do
  redis.call('ZREMRANGEBYSCORE', KEYS[base + i], '-inf', now)
  if redis.call('ZCARD', KEYS[base + i]) >= tonumber(ARGV[caps + i]) then return {4, i} end
end
local ttl = math.ceil(expires - now) + 60
for i = 1, nl do
  redis.call('ZADD', KEYS[base + i], expires, lease)
  redis.call('EXPIRE', KEYS[base + i], ttl)
end
if up == 1 then
  local key = KEYS[base + nl + 1]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[caps + nl + 1]) then return {5, 0} end
  redis.call('ZADD', key, expires, lease)
  redis.call('EXPIRE', key, ttl)
end
return {0, 0}
"""
# KEYS[1]: a waiting queue; ARGV: now, expires, member, size. Returns 1 when queued, 0 when full.
_ENQUEUE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) - tonumber(ARGV[1])) + 60)
return 1
"""


@dataclass(frozen=True)
class Admission:
    """What admit() is asked to check and take, in that order."""

    rates: Sequence[tuple[str, int]]  # per-minute counters and their limits
    tokens: Sequence[tuple[str, int]]  # per-day token counters and their limits (0: unlimited)
    flags: Sequence[str]  # any set refuses (a revoked token)
    leases: Sequence[tuple[str, int]]  # concurrency lease sets and their caps
    upstream: tuple[str, int] | None  # the upstream's lease set and cap, taken last (may be full)


class Store(Protocol):
    """What the governor needs from a backend."""

    def admit(self, what: Admission, lease: str, now: float, ttl: float) -> tuple[int, int]:
        """Check and take everything in one step: an outcome code and index, as the _ADMIT script returns."""

    def add_tokens(self, keys: Sequence[str], amount: int, now: float) -> None:
        """Add amount to each per-day token key."""

    def acquire(self, keys: Sequence[tuple[str, int]], lease: str, now: float, ttl: float) -> int:
        """Lease a slot in every (key, cap) or none: 0, else the 1-based index of the first full key."""

    def refresh(self, keys: Sequence[str], lease: str, now: float, ttl: float) -> None:
        """Push the lease's expiry out (a long stream is still running)."""

    def release(self, keys: Sequence[str], lease: str) -> None:
        """Give the slots back."""

    def settle(self, keys: Sequence[str], lease: str, token_keys: Sequence[str], amount: int, now: float) -> None:
        """Give the slots back and add the tokens spent, at once (one round trip)."""

    def flag(self, key: str, ttl: int) -> None:
        """Set a flag for ttl seconds."""

    def enqueue(self, key: str, member: str, now: float, ttl: float, size: int) -> bool:
        """Join a bounded waiting queue; False when it is full."""

    def dequeue(self, key: str, member: str) -> None:
        """Leave the waiting queue."""


class RedisStore:
    """Limits shared by every gateway, web and worker process through Redis."""

    def __init__(self, client: redis_lib.Redis) -> None:
        self._redis = client
        self._acquire = client.register_script(_ACQUIRE)
        self._admit = client.register_script(_ADMIT)
        self._enqueue = client.register_script(_ENQUEUE)

    def admit(self, what: Admission, lease: str, now: float, ttl: float) -> tuple[int, int]:
        keys = [k for k, _ in what.rates] + [k for k, _ in what.tokens] + list(what.flags) + [k for k, _ in what.leases]
        limits = [v for _, v in what.rates] + [v for _, v in what.tokens] + [v for _, v in what.leases]
        if what.upstream is not None:
            keys.append(what.upstream[0])
            limits.append(what.upstream[1])
        args = [now, now + ttl, lease, len(what.rates), len(what.tokens), len(what.flags), len(what.leases),
                int(what.upstream is not None), *limits]
        code, index = self._admit(keys=[PREFIX + k for k in keys], args=args)
        return int(code), int(index)

    def add_tokens(self, keys: Sequence[str], amount: int, now: float) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.incrby(PREFIX + key, amount)
            pipe.expire(PREFIX + key, 2 * 86400, nx=True)
        pipe.execute()

    def acquire(self, keys: Sequence[tuple[str, int]], lease: str, now: float, ttl: float) -> int:
        if not keys:
            return 0
        return int(self._acquire(keys=[PREFIX + k for k, _ in keys], args=[now, now + ttl, lease, *(c for _, c in keys)]))

    def refresh(self, keys: Sequence[str], lease: str, now: float, ttl: float) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.zadd(PREFIX + key, {lease: now + ttl}, xx=True)
        pipe.execute()

    def release(self, keys: Sequence[str], lease: str) -> None:
        if not keys:
            return
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.zrem(PREFIX + key, lease)
        pipe.execute()

    def settle(self, keys: Sequence[str], lease: str, token_keys: Sequence[str], amount: int, now: float) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.zrem(PREFIX + key, lease)
        if amount > 0:
            for key in token_keys:
                pipe.incrby(PREFIX + key, amount)
                pipe.expire(PREFIX + key, 2 * 86400, nx=True)
        pipe.execute()

    def flag(self, key: str, ttl: int) -> None:
        self._redis.set(PREFIX + key, 1, ex=ttl)

    def enqueue(self, key: str, member: str, now: float, ttl: float, size: int) -> bool:
        return bool(self._enqueue(keys=[PREFIX + key], args=[now, now + ttl, member, size]))

    def dequeue(self, key: str, member: str) -> None:
        self._redis.zrem(PREFIX + key, member)


class LocalStore:
    """The same in one process (embedded mode, no Redis)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, tuple[float, int]] = {}
        self._leases: dict[str, dict[str, float]] = {}

    def _bump(self, key: str, amount: int, ttl: float, now: float) -> int:
        expires, value = self._counters.get(key, (0.0, 0))
        if expires <= now:
            expires, value = now + ttl, 0
        self._counters[key] = (expires, value + amount)
        if len(self._counters) > 10_000:
            self._counters = {k: v for k, v in self._counters.items() if v[0] > now}
        return value + amount

    def admit(self, what: Admission, lease: str, now: float, ttl: float) -> tuple[int, int]:
        with self._lock:
            if any(self._bump(key, 0, 1, now) > 0 for key in what.flags):
                return 3, 0
            for index, (key, limit) in enumerate(what.rates, start=1):
                if self._bump(key, 1, 120, now) > limit:
                    return 1, index
            for index, (key, limit) in enumerate(what.tokens, start=1):
                if limit and self._bump(key, 0, 2 * 86400, now) >= limit:
                    return 2, index
            for index, (key, cap) in enumerate(what.leases, start=1):
                if len(self._live(key, now)) >= cap:
                    return 4, index
            for key, _cap in what.leases:
                self._leases[key][lease] = now + ttl
            if what.upstream is not None:
                key, cap = what.upstream
                if len(self._live(key, now)) >= cap:
                    return 5, 0
                self._leases[key][lease] = now + ttl
            return 0, 0

    def add_tokens(self, keys: Sequence[str], amount: int, now: float) -> None:
        with self._lock:
            for key in keys:
                self._bump(key, amount, 2 * 86400, now)

    def _live(self, key: str, now: float) -> dict[str, float]:
        held = self._leases.setdefault(key, {})
        for member in [m for m, expires in held.items() if expires <= now]:
            del held[member]
        return held

    def acquire(self, keys: Sequence[tuple[str, int]], lease: str, now: float, ttl: float) -> int:
        with self._lock:
            for index, (key, cap) in enumerate(keys, start=1):
                if len(self._live(key, now)) >= cap:
                    return index
            for key, _cap in keys:
                self._leases[key][lease] = now + ttl
            return 0

    def refresh(self, keys: Sequence[str], lease: str, now: float, ttl: float) -> None:
        with self._lock:
            for key in keys:
                if lease in self._leases.get(key, {}):
                    self._leases[key][lease] = now + ttl

    def release(self, keys: Sequence[str], lease: str) -> None:
        with self._lock:
            for key in keys:
                self._leases.get(key, {}).pop(lease, None)

    def settle(self, keys: Sequence[str], lease: str, token_keys: Sequence[str], amount: int, now: float) -> None:
        self.release(keys, lease)
        if amount > 0:
            self.add_tokens(token_keys, amount, now)

    def flag(self, key: str, ttl: int) -> None:
        with self._lock:
            self._bump(key, 1, ttl, time.time())

    def enqueue(self, key: str, member: str, now: float, ttl: float, size: int) -> bool:
        with self._lock:
            waiting = self._live(key, now)
            if len(waiting) >= size:
                return False
            waiting[member] = now + ttl
            return True

    def dequeue(self, key: str, member: str) -> None:
        with self._lock:
            self._leases.get(key, {}).pop(member, None)


def seconds_to_next_minute(now: float) -> int:
    """Retry-After for a per-minute limit."""
    return max(1, math.ceil(60 - now % 60))


def seconds_to_midnight_utc(now: float) -> int:
    """Retry-After for a per-day limit (days are UTC, as the assistant's allowance)."""
    return max(1, math.ceil(86400 - now % 86400))


def day(now: float) -> str:
    """The UTC day a token counter belongs to."""
    return time.strftime("%Y%m%d", time.gmtime(now))
