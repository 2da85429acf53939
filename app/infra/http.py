"""requests.Session factory: explicit timeouts, retries only for idempotent methods."""
from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT: tuple[float, float] = (2.0, 10.0)  # (connect, read) seconds
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _IdempotentRetry(Retry):
    """urllib3 Retry that never repeats a non-idempotent request, whatever went wrong."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        """Fail at once (as requests' default Retry(0, read=False) would) for POST, PATCH, ..."""
        if method is not None and not self._is_method_retryable(method):
            Retry(0, read=False).increment(method, url, response, error, _pool, _stacktrace)  # always raises
        return super().increment(method, url, response, error, _pool, _stacktrace)


class TimeoutSession(requests.Session):
    """Session that applies DEFAULT_TIMEOUT when a caller forgets to pass one."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Send the request with an explicit timeout."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = DEFAULT_TIMEOUT
        return super().request(method, url, *args, **kwargs)


def make_session(*, user_agent: str = "OpenClaw") -> requests.Session:
    """A pooled session: GET/HEAD retried twice on connection errors, POST/PATCH never."""
    session = TimeoutSession()
    session.headers["User-Agent"] = user_agent
    retry = _IdempotentRetry(
        total=2,
        connect=2,
        read=2,
        status=0,
        other=0,
        redirect=0,
        backoff_factor=0.25,
        allowed_methods=IDEMPOTENT_METHODS,
        raise_on_status=False,
        respect_retry_after_header=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


_shared: requests.Session | None = None
_shared_lock = threading.Lock()


def shared_session() -> requests.Session:
    """The process-wide pooled session for outbound integrations (Prometheus, Elasticsearch)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = make_session()
        return _shared
