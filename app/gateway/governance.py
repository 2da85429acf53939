"""Who may call a model now: per-user and per-token rate, tokens per day and concurrency, and per-upstream caps.

Gateway clients and the bot's assistant pass through the same Governor, so one person's
IDE plugin and their chat questions share one allowance and one upstream queue.
"""
from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import current_app

from app.ai.limits import LimitExceeded
from app.gateway import catalog
from app.gateway.limits import (Admission, LocalStore, RedisStore, Store, day, seconds_to_midnight_utc,
                                seconds_to_next_minute)
from app.infra.redis import get_redis
from app.inventory import get_inventory
from app.inventory.schema import Gateway, LimitSet, Role

logger = logging.getLogger(__name__)

EXTENSION = "openclaw.gateway.governor"
LEASE_TTL = 120.0  # seconds a lease lives unless refreshed (a stream refreshes it while it runs)
REFRESH_EVERY = 30.0
BUILTIN = {"requests_per_minute": 100, "tokens_per_day": 0, "concurrency": 5}


def revoked_flag(token_id: int) -> str:
    """The flag a revocation sets, so cached tokens are refused at once by every process."""
    return f"revoked:{token_id}"


REVOKED_TTL = 3600  # longer than any cached authentication


class TokenRevoked(Exception):
    """The token was revoked after it was cached."""


class RateLimited(LimitExceeded):
    """Over a limit: the HTTP status is 429, Retry-After says when to try again."""

    def __init__(self, message: str, *, code: str, retry_after: int) -> None:
        super().__init__(message, user_message=message)
        self.code, self.retry_after = code, retry_after


@dataclass(frozen=True)
class Allowance:
    """Effective limits; 0 means unlimited."""

    requests_per_minute: int
    tokens_per_day: int
    concurrency: int


def allowance(gateway: Gateway, *, role: str | None, names: tuple[str, ...]) -> Allowance:
    """Built-in defaults, then gateway.limits, then the role's, then the user's (first name found)."""
    layers: list[LimitSet | None] = [gateway.limits]
    if role in {r.value for r in Role}:
        layers.append(gateway.roles.get(Role(role)))
    layers.append(next((gateway.users[n] for n in names if n and n in gateway.users), None))
    values = dict(BUILTIN)
    for layer in layers:
        if layer is not None:
            values.update({k: v for k, v in layer.model_dump().items() if v is not None})
    return Allowance(**values)


def token_allowance(token: Any) -> Allowance | None:
    """A token's own limits (columns on api_tokens), or None when it has none."""
    values = (token.rate_per_minute, token.tokens_per_day, token.concurrency)
    if all(v is None for v in values):
        return None
    return Allowance(*(v or 0 for v in values))


@dataclass(frozen=True)
class Caller:
    """Whose allowance a call uses: the person (subject) and, for gateway clients, the token."""

    subject: str
    role: str | None
    names: tuple[str, ...]
    token_id: int | None = None
    token_limits: Allowance | None = None


class Slot:
    """Admission for one call: holds concurrency leases until released; spend() counts tokens."""

    def __init__(self, governor: Governor, keys: list[str], token_keys: list[str], lease: str) -> None:
        self._governor, self._keys, self._token_keys, self.lease = governor, keys, token_keys, lease
        self._refreshed = time.monotonic()
        self._released = False

    def spend(self, tokens: int) -> None:
        if tokens > 0 and self._token_keys:
            self._governor.store.add_tokens(self._token_keys, tokens, self._governor.clock())

    def touch(self) -> None:
        """Keep the leases alive during a long stream (at most one write per REFRESH_EVERY)."""
        if self._keys and time.monotonic() - self._refreshed > REFRESH_EVERY:
            self._refreshed = time.monotonic()
            self._governor.store.refresh(self._keys, self.lease, self._governor.clock(), LEASE_TTL)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._governor.store.release(self._keys, self.lease)

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Governor:
    """Checks and counts calls against the inventory's gateway limits and the routes' upstream caps."""

    def __init__(self, store: Store, gateway: Gateway, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.gateway, self.clock, self._sleep = store, gateway, clock, sleep

    def admit(self, caller: Caller, route: catalog.Route | None = None) -> tuple[Slot, Slot | None]:
        """caller's Slot and, when route is given and has room, its upstream Slot (None: queue for it with
        upstream()); RateLimited naming the limit and when to retry, TokenRevoked. One store round trip."""
        now = self.clock()
        mine = allowance(self.gateway, role=caller.role, names=caller.names)
        sets: list[tuple[str, Allowance]] = [(f"user:{caller.subject}", mine)]
        if caller.token_id is not None and caller.token_limits is not None:
            sets.append((f"token:{caller.token_id}", caller.token_limits))
        what = Admission(
            rates=[(f"rate:{who}:{int(now // 60)}", a.requests_per_minute) for who, a in sets if a.requests_per_minute],
            tokens=[(f"tokens:{who}:{day(now)}", a.tokens_per_day) for who, a in sets],
            flags=[revoked_flag(caller.token_id)] if caller.token_id is not None else [],
            leases=[(f"inflight:{who}", a.concurrency) for who, a in sets if a.concurrency],
            upstream=(f"upstream:{route.name}", route.max_concurrency) if route is not None else None,
        )
        lease = uuid.uuid4().hex
        code, index = self.store.admit(what, lease, now, LEASE_TTL)
        if code == 3:
            raise TokenRevoked(f"token {caller.token_id} is revoked")
        if code == 1:
            limit = what.rates[index - 1][1]
            raise RateLimited(f"Rate limit reached: {limit} requests per minute. Try again shortly.",
                              code="rate_limit_exceeded", retry_after=seconds_to_next_minute(now))
        if code == 2:
            limit = what.tokens[index - 1][1]
            raise RateLimited(f"Daily token allowance used up ({limit} tokens); it resets at 00:00 UTC.",
                              code="tokens_exceeded", retry_after=seconds_to_midnight_utc(now))
        if code == 4:
            cap = what.leases[index - 1][1]
            raise RateLimited(f"Too many requests at once: at most {cap} in flight. Wait for one to finish.",
                              code="concurrency_exceeded", retry_after=1)
        mine_slot = Slot(self, [k for k, _ in what.leases], [k for k, _ in what.tokens], lease)
        if what.upstream is None or code == 5:
            return mine_slot, None
        return mine_slot, Slot(self, [what.upstream[0]], [], lease)

    def settle(self, slots: list[Slot], tokens: int) -> None:
        """Release slots sharing one lease and count tokens against the first's allowances, in one round trip."""
        live = [s for s in slots if not s._released]
        if not live:
            return
        for slot in live:
            slot._released = True
        keys = [key for slot in live for key in slot._keys]
        self.store.settle(keys, live[0].lease, slots[0]._token_keys, tokens, self.clock())

    def upstream(self, route: catalog.Route, lease: str | None = None) -> Slot:
        """A slot on route's upstream, waiting in its bounded queue up to queue_timeout; RateLimited otherwise."""
        key, lease = f"upstream:{route.name}", lease or uuid.uuid4().hex
        if not self.store.acquire([(key, route.max_concurrency)], lease, self.clock(), LEASE_TTL):
            return Slot(self, [key], [], lease)
        busy = RateLimited(f"Model {route.name} is busy: {route.max_concurrency} requests in flight and "
                           f"{route.max_queue} waiting. Try again shortly.", code="upstream_busy", retry_after=2)
        if not route.max_queue or not route.queue_timeout:
            raise busy
        queue = f"queue:{route.name}"
        if not self.store.enqueue(queue, lease, self.clock(), route.queue_timeout + 5, route.max_queue):
            raise busy
        try:
            deadline, delay = time.monotonic() + route.queue_timeout, 0.005
            while time.monotonic() < deadline:
                self._sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.05)
                if not self.store.acquire([(key, route.max_concurrency)], lease, self.clock(), LEASE_TTL):
                    return Slot(self, [key], [], lease)
        finally:
            self.store.dequeue(queue, lease)
        raise busy


def get_governor() -> Governor:
    """The app's governor (Redis-backed when REDIS_URL is set)."""
    governor: Governor | None = current_app.extensions.get(EXTENSION)
    if governor is None:
        client = get_redis()
        store: Store = RedisStore(client) if client is not None else LocalStore()
        governor = current_app.extensions.setdefault(EXTENSION, Governor(store, get_inventory().gateway))
    return governor


class _BotSlot:
    """The assistant's admission: the sender's slot plus an upstream slot; spend() counts the sender's tokens."""

    def __init__(self, user: Slot | None, upstream: Slot | None) -> None:
        self._user, self._upstream = user, upstream

    def spend(self, tokens: int) -> None:
        if self._user is not None:
            self._user.spend(tokens)


@contextmanager
def admit_bot(meta: Any, *, upstream: str) -> Iterator[_BotSlot]:
    """Admit one of the assistant's model calls for meta.user_id (an open_id) like a gateway call."""
    governor = get_governor()
    route = catalog.bot_route(upstream) or catalog.Route(name=upstream, provider="", base_url="", model=upstream)
    user, up = governor.admit(Caller(meta.user_id, meta.role, (meta.user_id,)), route) if meta.user_id else (None, None)
    try:
        up = up or governor.upstream(route, user.lease if user is not None else None)
    except BaseException:
        if user is not None:
            user.release()
        raise
    try:
        yield _BotSlot(user, up)
    finally:
        up.release()
        if user is not None:
            user.release()
