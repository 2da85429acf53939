"""Optional Redis: present in production (REDIS_URL), absent in embedded mode."""
from __future__ import annotations

import redis
from flask import Flask, current_app

EXTENSION = "openclaw.redis"


def init_app(app: Flask) -> None:
    """Create the client lazily-connecting client when REDIS_URL is set."""
    url = app.config.get("REDIS_URL")
    app.extensions[EXTENSION] = (
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)
        if url
        else None
    )


def get_redis() -> redis.Redis | None:
    """The app's Redis client, or None in embedded mode."""
    client: redis.Redis | None = current_app.extensions.get(EXTENSION)
    return client
