"""Fixtures for the Feishu client tests: the fake server and Redis DB 14."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.fakes.fixtures import feishu_server  # noqa: F401

REDIS_DB = 14


@pytest.fixture
def feishu_redis() -> Iterator[redis.Redis]:
    """Local Redis DB 14, flushed before and after the test; skipped when Redis is not running."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
