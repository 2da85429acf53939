"""tenant_access_token cache: in Redis so every process shares one token, else in memory."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

import redis

logger = logging.getLogger(__name__)

KEY_PREFIX = "openclaw:feishu:tenant_token:"
# Delete the key only if it still holds the value we know (a lock we own, a token we saw fail).
_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

Fetch = Callable[[], tuple[str, float]]  # -> (token, expire seconds)


class TokenCache:
    """Hands out a cached tenant token and refreshes it `margin` seconds before it expires."""

    def __init__(
        self,
        app_id: str,
        fetch: Fetch,
        *,
        redis_client: redis.Redis | None = None,
        margin: float = 600.0,
        min_ttl: float = 60.0,
        lock_ttl: float = 10.0,
        lock_wait: float = 5.0,
    ) -> None:
        self._fetch = fetch
        self._redis = redis_client
        self._key = KEY_PREFIX + app_id
        self._lock_key = self._key + ":lock"
        self._delete_if_equal = redis_client.register_script(_DELETE_IF_EQUAL) if redis_client is not None else None
        self._margin = margin
        self._min_ttl = min_ttl
        self._lock_ttl = lock_ttl
        self._lock_wait = lock_wait
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def ttl(self, expire: float) -> float:
        """How long to trust a token that lives `expire` more seconds."""
        return min(expire, max(self._min_ttl, expire - self._margin))

    def get(self) -> str:
        """A valid token, fetching a new one only when the cache is empty or stale."""
        if self._redis is not None:
            try:
                return self._get_shared(self._redis)
            except redis.RedisError as exc:
                logger.warning("token cache falling back to in-process: %s", type(exc).__name__)
        return self._get_local()

    def invalidate(self, token: str) -> None:
        """Forget `token` (rejected by Feishu) unless another process already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None
        try:
            self._compare_delete(self._key, token)
        except redis.RedisError as exc:
            logger.warning("could not drop the shared token: %s", type(exc).__name__)

    def _compare_delete(self, key: str, value: str) -> None:
        if self._delete_if_equal is not None:
            self._delete_if_equal(keys=[key], args=[value])

    def _get_local(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                token, expire = self._fetch()
                self._token, self._expires_at = token, time.monotonic() + self.ttl(expire)
            return self._token

    def _get_shared(self, client: redis.Redis) -> str:
        """Read the shared token; on a miss one process refreshes under a lock, the rest wait."""
        deadline = time.monotonic() + self._lock_wait
        while True:
            cached = client.get(self._key)
            if cached is not None:
                return cached.decode() if isinstance(cached, bytes) else str(cached)
            owner = uuid.uuid4().hex
            if client.set(self._lock_key, owner, nx=True, px=int(self._lock_ttl * 1000)):
                try:
                    cached = client.get(self._key)
                    if cached is not None:
                        return cached.decode() if isinstance(cached, bytes) else str(cached)
                    return self._store(client)
                finally:
                    self._compare_delete(self._lock_key, owner)
            if time.monotonic() >= deadline:
                logger.warning("token refresh lock held for %.1fs; refreshing without it", self._lock_wait)
                return self._store(client)
            time.sleep(0.05)

    def _store(self, client: redis.Redis) -> str:
        token, expire = self._fetch()
        client.set(self._key, token, px=max(1, int(self.ttl(expire) * 1000)))
        return token
