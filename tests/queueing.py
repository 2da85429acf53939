"""What the webhook handed to the workers: RQ jobs plus ids still on the hand-off lists (app/infra/handoff.py)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask


def _lists() -> list[str]:
    from app.infra.handoff import _handoffs

    return list(_handoffs)


def pending(app: Flask) -> int:
    """Work waiting for a worker: RQ jobs (not counting the drain jobs) plus ids still on the hand-off lists."""
    from app.infra.handoff import drain
    from app.infra.queue import EXTENSION

    drain_job = f"{drain.__module__}.{drain.__qualname__}"
    count = sum(1 for queue in app.extensions[EXTENSION].queues.values()
                for job in queue.get_jobs() if job.args[0] != drain_job)
    redis = app.extensions.get("openclaw.redis")
    if redis is not None:
        count += sum(int(redis.llen(key)) for key in _lists())
    return count


def forget_pending(app: Flask) -> None:
    """Lose everything queued, as a crashed worker or a flushed Redis would."""
    from app.infra.queue import EXTENSION

    for queue in app.extensions[EXTENSION].queues.values():
        queue.empty()
    redis = app.extensions.get("openclaw.redis")
    if redis is not None:
        for key in _lists():
            redis.delete(key, f"{key}:drain-pending")


def drain_all(app: Flask, drain: Callable[[], int]) -> None:
    """Move the ids on the hand-off lists into the job queue, then run every job."""
    from app.infra import handoff

    handoff.drain_all(app)
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
