"""The outbox: staged with the caller's transaction, delivered by key, retried with the same uuid."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.infra.db import db, utcnow
from app.outbox import service as outbox
from app.outbox.models import OutboundMessage, OutboxStatus


def row(outbox_id: int) -> OutboundMessage:
    found = db.session.get(OutboundMessage, outbox_id, populate_existing=True)
    assert found is not None
    return found


def test_a_staged_message_is_sent_once_under_its_key(app: Flask, feishu_server: Any) -> None:
    item = outbox.send("oc_room", key="k-send-1", text="hello")
    first = outbox.stage(item)
    assert outbox.stage(item) is None  # the same key is owed once
    db.session.commit()
    assert first is not None and outbox.deliver(first)
    assert outbox.deliver(first)  # already sent: nothing more goes out
    [message] = feishu_server.messages()
    assert (message.text, message.uuid) == ("hello", "k-send-1")
    assert row(first).status == OutboxStatus.SENT and row(first).sent_message_id == message.message_id


def test_a_staged_message_is_lost_with_a_rolled_back_transaction(app: Flask) -> None:
    outbox.stage(outbox.send("oc_room", key="k-rollback", text="never"))
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count()).select_from(OutboundMessage)).scalar_one() == 0


def test_a_retry_after_a_lost_answer_shows_the_message_once(app: Flask, feishu_server: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Feishu stored the message but the worker never heard back: the retry reuses the uuid."""
    from app.feishu.client import FeishuClient
    from app.feishu.errors import FeishuUnavailable

    real = FeishuClient._post_message
    calls = {"n": 0}

    def lossy(self: FeishuClient, body: dict[str, Any], receive_id_type: str) -> str:
        calls["n"] += 1
        message_id = real(self, body, receive_id_type)
        if calls["n"] == 1:
            raise FeishuUnavailable(-1, "ReadTimeout")  # sent, but the answer was lost
        return message_id

    monkeypatch.setattr(FeishuClient, "_post_message", lossy)
    outbox_id = outbox.stage(outbox.send("oc_room", key="k-lost", text="once"))
    db.session.commit()
    assert outbox_id is not None and not outbox.deliver(outbox_id)
    assert row(outbox_id).status == OutboxStatus.PENDING
    assert outbox.due() == []  # backing off
    db.session.execute(sa.update(OutboundMessage).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert outbox.due() == [outbox_id]
    assert not outbox.deliver(outbox_id)  # inline sends wait while the last attempt's pause lasts ...
    assert outbox.deliver(outbox_id, probe=True)  # ... the sweep's probe does not
    assert len(feishu_server.messages()) == 1


def test_a_card_update_restaged_with_newer_content_sends_the_newest(app: Flask, feishu_server: Any) -> None:
    sent = outbox.post(outbox.send("oc_room", key="k-card", card={"schema": "2.0", "body": {"elements": []}}))
    assert sent
    card_id = feishu_server.messages()[0].message_id
    for n in (1, 2):
        card = {"schema": "2.0", "body": {"elements": [{"tag": "markdown", "content": f"v{n}"}]}}
        assert outbox.post(outbox.update_card(card_id, card, key="k-card-update"), latest=True)
    assert [u["body"]["elements"][0]["content"] for u in feishu_server.messages()[0].updates] == ["v1", "v2"]


def test_rows_older_than_the_uuid_window_are_given_up(app: Flask, feishu_server: Any) -> None:
    feishu_server.fail_next("/messages", status=503, code=1500, msg="internal error", times=1)
    outbox_id = outbox.stage(outbox.send("oc_room", key="k-old", text="late"))
    db.session.execute(sa.update(OutboundMessage).values(
        created_at=utcnow() - timedelta(seconds=outbox.GIVE_UP_AFTER + 1)))
    db.session.commit()
    assert outbox_id is not None and not outbox.deliver(outbox_id)
    assert row(outbox_id).status == OutboxStatus.DEAD
