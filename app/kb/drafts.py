"""`/kb add TITLE` then text: the pending title waits here (Redis, else in-process) for the sender's next message."""
from __future__ import annotations

import threading
import time

from flask import current_app

from app.infra.redis import get_redis

EXTENSION = "openclaw.kb.drafts"
_PREFIX = "openclaw:kb:draft:"
TTL = 600


def _key(chat_id: str, open_id: str) -> str:
    return f"{chat_id}:{open_id}"


def _local() -> tuple[dict[str, tuple[float, str]], threading.Lock]:
    store = current_app.extensions.get(EXTENSION)
    if store is None:
        store = current_app.extensions.setdefault(EXTENSION, ({}, threading.Lock()))
    return store  # type: ignore[no-any-return]


def start(*, chat_id: str, open_id: str, title: str) -> None:
    """Remember that the sender's next message in this chat is the body of an article titled title."""
    redis = get_redis()
    if redis is not None:
        redis.set(_PREFIX + _key(chat_id, open_id), title.encode(), ex=TTL)
        return
    data, lock = _local()
    with lock:
        data[_key(chat_id, open_id)] = (time.monotonic() + TTL, title)


def take(*, chat_id: str, open_id: str) -> str | None:
    """The pending title, removed (None when there is none or it expired)."""
    redis = get_redis()
    if redis is not None:
        raw = redis.getdel(_PREFIX + _key(chat_id, open_id))
        return raw.decode() if raw else None
    data, lock = _local()
    with lock:
        expires, title = data.pop(_key(chat_id, open_id), (0.0, ""))
    return title if expires > time.monotonic() else None
