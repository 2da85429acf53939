"""What the webhook handed to the workers, however it hands off (RQ job directly, or the inbox list first)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask


def _inbox_key() -> str | None:
    try:
        from app.inbox.handoff import INBOX_KEY
    except ImportError:
        return None
    return INBOX_KEY


def pending(app: Flask) -> int:
    """Events waiting for a worker: RQ jobs plus ids still on the inbox list."""
    from app.infra.queue import EXTENSION

    count = sum(queue.count for queue in app.extensions[EXTENSION].queues.values())
    key, redis = _inbox_key(), app.extensions.get("openclaw.redis")
    if key and redis is not None:
        count += int(redis.llen(key))
    return count


def forget_pending(app: Flask) -> None:
    """Lose everything queued, as a crashed worker or a flushed Redis would."""
    from app.infra.queue import EXTENSION

    for queue in app.extensions[EXTENSION].queues.values():
        queue.empty()
    key, redis = _inbox_key(), app.extensions.get("openclaw.redis")
    if key and redis is not None:
        redis.delete(key)


def drain_all(app: Flask, drain: Callable[[], int]) -> None:
    """Move inbox ids into the job queue (if the app has an inbox list), then run every job."""
    try:
        from app.inbox.handoff import drain_inbox
    except ImportError:
        pass
    else:
        drain_inbox(app)
    drain()


def refuse_handoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook cannot queue anything, as if Redis were unreachable; the sweep still can."""
    import app.feishu.intake as webhooks  # what both transports call to record and hand off

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Redis is unreachable")

    patched = [name for name in ("enqueue", "hand_off") if hasattr(webhooks, name)]
    assert patched, "the webhook module neither enqueues nor hands off"
    for name in patched:
        monkeypatch.setattr(webhooks, name, refuse)
