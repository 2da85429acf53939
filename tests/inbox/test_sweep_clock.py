"""The event sweep's clock on both databases: when an unhandled or stuck event is queued again.

tests/inbox/test_sweep.py covers the hand-off through Redis and real worker processes;
these run on PostgreSQL + Redis and on SQLite in embedded mode (in-process jobs).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.inbox import tasks
from app.inbox.models import EventStatus, InboundEvent
from app.infra.db import db, utcnow
from tests.pushes import encrypted_push, im_message
from tests.queueing import refuse_handoff

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("handoff_down")]


def events() -> list[InboundEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(InboundEvent).order_by(InboundEvent.id)))


def backdate(seconds: float, **values: Any) -> None:
    """Pretend every event was last touched `seconds` ago (and set other columns)."""
    db.session.execute(sa.update(InboundEvent).values(updated_at=utcnow() - timedelta(seconds=seconds), **values))
    db.session.commit()


def deliver_help(client: FlaskClient) -> str:
    """POST an encrypted /help to the webhook; returns its message_id."""
    payload = im_message("/help")
    raw, headers = encrypted_push(payload)
    assert client.post("/webhook/feishu", data=raw, headers=headers, content_type="application/json").status_code == 200
    return str(payload["event"]["message"]["message_id"])


def replies_to(feishu_server: Any, message_id: str) -> list[Any]:
    return [m for m in feishu_server.messages() if m.reply_to == message_id]


@pytest.fixture
def handoff_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook records events but cannot hand them to a worker; the sweep's enqueue still works."""
    refuse_handoff(monkeypatch)


def test_a_received_event_is_left_alone_until_the_sweep_interval_has_passed_then_handled_once(
    app: Flask, client: FlaskClient, drain: Callable[[], None], feishu_server: Any,
) -> None:
    message_id = deliver_help(client)
    assert tasks.sweep_events() == 0  # just recorded: the normal hand-off may still be on its way
    backdate(app.config["EVENT_SWEEP_INTERVAL"] - 5)
    assert tasks.sweep_events() == 0
    backdate(app.config["EVENT_SWEEP_INTERVAL"] + 1)
    assert tasks.sweep_events() == 1
    drain()
    [event] = events()
    assert (event.status, event.attempts) == (EventStatus.DONE, 1)
    assert event.processed_at is not None and event.processed_at >= event.received_at
    assert len(replies_to(feishu_server, message_id)) == 1
    backdate(app.config["EVENT_SWEEP_INTERVAL"] + 1)
    assert tasks.sweep_events() == 0  # done events are never swept again


def test_an_event_stuck_in_processing_past_the_stale_bound_is_interrupted_and_a_recent_one_is_not(
    app: Flask, client: FlaskClient, drain: Callable[[], None], feishu_server: Any,
) -> None:
    message_id = deliver_help(client)
    backdate(app.config["EVENT_STALE_AFTER"] - 60, status=EventStatus.PROCESSING, attempts=1)
    assert tasks.sweep_events() == 0
    assert events()[0].status == EventStatus.PROCESSING  # its worker may still be on it
    backdate(app.config["EVENT_STALE_AFTER"] + 1, status=EventStatus.PROCESSING, attempts=1)
    assert tasks.sweep_events() == 0  # never routed again (issue 9): interrupted, and the chat is told
    drain()
    [event] = events()
    assert (event.status, event.attempts) == (EventStatus.INTERRUPTED, 1)
    [notice] = replies_to(feishu_server, message_id)
    assert notice.text is not None and "interrupted" in notice.text


def test_an_event_out_of_attempts_is_settled_dead_by_the_sweep(app: Flask, client: FlaskClient) -> None:
    deliver_help(client)
    backdate(app.config["EVENT_SWEEP_INTERVAL"] + 1, status=EventStatus.FAILED,
             attempts=app.config["EVENT_MAX_ATTEMPTS"])
    assert tasks.sweep_events() == 0
    [event] = events()
    assert event.status == EventStatus.DEAD and event.updated_at > event.received_at
