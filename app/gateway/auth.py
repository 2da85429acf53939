"""Bearer-token authentication for the gateway, cached briefly per process when Redis is there.

A cached token costs no database query. Revocation stays immediate: revoke_token sets a
flag in Redis that the governor reads in the same round trip as the rate counters, so a
revoked token is refused by every process on its next request. Without Redis (embedded
mode) nothing is cached and every request reads the database. A changed role or per-token
limit reaches a process within CACHE_SECONDS.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flask import request

from app.gateway.errors import GatewayError
from app.gateway.governance import Caller, token_allowance
from app.infra.db import db
from app.infra.redis import get_redis
from app.users import tokens

CACHE_SECONDS = 60.0  # also how often last_used_at is written
_cache: dict[str, tuple[float, Client]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Client:
    """The authenticated caller, as plain values (the database session is released before the upstream call)."""

    caller: Caller
    token_name: str


def _refused() -> GatewayError:
    return GatewayError(401, "Invalid or revoked API token: send Authorization: Bearer <token> (from `flask tokens create`).",
                        code="invalid_api_key")


def authenticate(*, cached: bool = True) -> Client:
    """The request's client, or GatewayError 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _refused()
    use_cache = cached and get_redis() is not None
    key = tokens.digest(token)
    now = time.monotonic()
    if use_cache:
        hit = _cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
    found = tokens.authenticate(token)
    if found is None:
        db.session.rollback()
        raise _refused()
    row, user = found
    names = tuple(n for n in (user.login, user.open_id) if n)
    client = Client(Caller(user.actor, str(user.role), names, row.id, token_allowance(row)), row.name)
    db.session.rollback()  # end the read transaction: a long stream must not hold a database connection
    if use_cache:
        with _lock:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[key] = (now + CACHE_SECONDS, client)
    return client


def forget(token_hash: str | None = None) -> None:
    """Drop cached authentications (all, or one token's)."""
    with _lock:
        if token_hash is None:
            _cache.clear()
        else:
            _cache.pop(token_hash, None)
