"""Route once, deliver until sent: a failed reply is retried by the outbox and never runs the command again."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.chat import registry
from app.inbox import tasks
from app.inbox.models import EventStatus
from app.infra.db import db, utcnow
from app.outbox import tasks as outbox_tasks
from app.outbox.models import OutboundMessage, OutboxStatus
from tests.inbox.test_sweep import backdate, events, replies_to
from tests.pushes import encrypted_push, im_message
from tests.queueing import drain_all


def send(client: FlaskClient, text: str, sender: str = "ou_bob") -> str:
    payload = im_message(text, sender=sender)
    raw, headers = encrypted_push(payload)
    assert client.post("/webhook/feishu", data=raw, headers=headers, content_type="application/json").status_code == 200
    return str(payload["event"]["message"]["message_id"])


def outbox_rows() -> list[OutboundMessage]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboundMessage).order_by(OutboundMessage.id)))


def make_due() -> None:
    """As if the backoff had passed: rows due now, the process's pause after a failure over."""
    from app.outbox.service import PAUSE

    PAUSE.clear()
    db.session.execute(sa.update(OutboundMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Calls of the /alert silence handler (a mutating command), by message."""
    calls: list[str] = []
    spec = registry._commands["alert silence"]

    def counting(ctx: Any, args: Any) -> Any:
        calls.append(str(ctx.message_id))
        return spec.handler(ctx, args)

    monkeypatch.setitem(registry._commands, "alert silence", dataclasses.replace(spec, handler=counting))
    return calls


def test_a_failed_delivery_never_calls_the_command_handler_twice(
    app: Flask, client: FlaskClient, drain: Callable[[], None], feishu_server: Any, counted: list[str],
) -> None:
    feishu_server.fail_next("/reply", status=503, code=1500, msg="internal error", times=3)
    message_id = send(client, "/alert silence alertname=DiskFull 1h")
    drain_all(app, drain)
    [event] = events()
    assert event.status == EventStatus.DONE  # handled: the command ran and its reply is owed
    [row] = outbox_rows()
    assert (row.status, row.attempts, row.key) == (OutboxStatus.PENDING, 1, f"{message_id}-0")
    assert replies_to(feishu_server, message_id) == []
    for _ in range(6):  # event sweeps find nothing to redo; outbox sweeps retry the reply until it is sent
        backdate(app.config["EVENT_STALE_AFTER"] + 1)
        assert tasks.sweep_events() == 0
        make_due()
        outbox_tasks.sweep_outbox()
        drain_all(app, drain)
        if outbox_rows()[0].status == OutboxStatus.SENT:
            break
    [row] = outbox_rows()
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 4)
    [reply] = replies_to(feishu_server, message_id)
    assert reply.text is not None and reply.text.startswith("Silenced")
    assert reply.uuid == f"{message_id}-0"
    assert counted == [message_id]
    tasks.process_event(event.id)  # a duplicate job changes nothing
    make_due()
    assert outbox_tasks.sweep_outbox() == 0
    assert counted == [message_id]
    assert len(replies_to(feishu_server, message_id)) == 1


def test_a_redelivered_push_is_not_routed_again(
    app: Flask, client: FlaskClient, drain: Callable[[], None], feishu_server: Any, counted: list[str],
) -> None:
    payload = im_message("/alert silence alertname=CPU 1h")
    for _ in range(2):  # Feishu pushes again when our 200 did not arrive in time
        raw, headers = encrypted_push(payload)
        assert client.post("/webhook/feishu", data=raw, headers=headers,
                           content_type="application/json").status_code == 200
        drain_all(app, drain)
    message_id = payload["event"]["message"]["message_id"]
    assert counted == [message_id]
    assert len(replies_to(feishu_server, message_id)) == 1


def test_a_reply_feishu_refuses_for_good_is_given_up_not_retried(
    app: Flask, client: FlaskClient, drain: Callable[[], None], feishu_server: Any,
) -> None:
    feishu_server.fail_next("/reply", status=400, code=230011, msg="The message was withdrawn.", times=1)
    send(client, "/help")
    drain_all(app, drain)
    [row] = outbox_rows()
    assert row.status == OutboxStatus.DEAD and "230011" in (row.last_error or "")
    make_due()
    assert outbox_tasks.sweep_outbox() == 0
