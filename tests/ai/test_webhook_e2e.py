"""End to end: a signed Feishu push in, the worker's job, an answer streamed into a card out."""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.ai.models import LLMCall
from app.inbox.models import InboundEvent
from app.inbox.tasks import process_event
from app.infra.db import db
from app.kb import service as kb
from tests.fakes.llm_server import FakeLLMServer, Script
from tests.pushes import encrypted_push, im_message


def test_group_question_is_answered_in_a_card_with_sources(
    ai_app: Flask, llm_server: FakeLLMServer, feishu_server: Any
) -> None:
    article = kb.add_article(title="Kafka consumer lag", body="Check lag per partition with kafka-consumer-groups.",
                             author="ou_bob")
    llm_server.script(Script(chunks=["Scale the consumers ", f"[#{article.id}]."]))
    payload = im_message("kafka consumer lag is growing", sender="ou_dave", chat_id="oc_ops")
    raw, headers = encrypted_push(payload)
    response = ai_app.test_client().post("/webhook/feishu", data=raw, headers=headers,
                                         content_type="application/json; charset=utf-8")
    assert response.status_code == 200, response.data
    event_pk = db.session.execute(
        select(InboundEvent.id).where(InboundEvent.event_id == payload["header"]["event_id"])).scalar_one()
    process_event(event_pk)  # the worker's job, run here in ai_app (the drain fixture runs jobs in another app)
    cards = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    assert len(cards) == 1 and cards[0].reply_to == payload["event"]["message"]["message_id"]
    final = cards[0].updates[-1]["body"]["elements"][0]["content"]
    assert final.startswith("Scale the consumers") and f"#{article.id} Kafka consumer lag" in final
    call = db.session.execute(select(LLMCall)).scalar_one()
    assert (call.request_id, call.user_id, call.chat_id) == (payload["header"]["event_id"], "ou_dave", "oc_ops")


def _question(ai_app: Flask, text: str) -> tuple[int, str]:
    payload = im_message(text, sender="ou_dave", chat_id="oc_ops")
    raw, headers = encrypted_push(payload)
    assert ai_app.test_client().post("/webhook/feishu", data=raw, headers=headers,
                                     content_type="application/json").status_code == 200
    event_pk = db.session.execute(
        select(InboundEvent.id).where(InboundEvent.event_id == payload["header"]["event_id"])).scalar_one()
    return event_pk, str(payload["event"]["message"]["message_id"])


def _sweep_outbox_until_sent() -> None:
    from sqlalchemy import update

    from app.infra.db import utcnow
    from app.outbox import service as outbox
    from app.outbox.models import OutboundMessage

    outbox.PAUSE.clear()
    db.session.execute(update(OutboundMessage).values(next_attempt_at=utcnow()))
    db.session.commit()
    for outbox_id in outbox.due():
        assert outbox.deliver(outbox_id, probe=True)


def test_a_final_card_update_feishu_refused_is_delivered_later_without_asking_the_model_again(
    ai_app: Flask, llm_server: FakeLLMServer, feishu_server: Any, monkeypatch: Any,
) -> None:
    from app.feishu.client import FeishuClient
    from app.feishu.errors import FeishuUnavailable

    llm_server.script(Script(chunks=["Restart the ", "consumer group."]))
    event_pk, message_id = _question(ai_app, "how do I fix consumer lag")

    def unreachable(self: Any, message_id: str, card: Any) -> None:  # the card is sent, its updates are not
        raise FeishuUnavailable(-1, "ConnectionError")

    with monkeypatch.context() as patch:
        patch.setattr(FeishuClient, "update_card", unreachable)
        process_event(event_pk)
    [card] = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    assert card.reply_to == message_id
    assert not card.updates or "consumer group" not in str(card.updates[-1])  # the answer did not arrive ...
    _sweep_outbox_until_sent()
    assert "Restart the consumer group." in str(card.updates[-1])  # ... until the outbox delivered it
    assert len(llm_server.requests) == 1  # the model was asked once
    assert db.session.execute(select(InboundEvent.status).where(InboundEvent.id == event_pk)).scalar_one() == "done"


def test_an_answer_whose_card_could_not_be_opened_is_replied_later_without_asking_the_model_again(
    ai_app: Flask, llm_server: FakeLLMServer, feishu_server: Any
) -> None:
    llm_server.script(Script(chunks=["Check the disk."]))
    event_pk, message_id = _question(ai_app, "why is web-01 slow")
    feishu_server.fail_next("/reply", status=503, code=1500, msg="unavailable", times=50)
    process_event(event_pk)
    assert feishu_server.messages() == []
    with feishu_server.lock:
        feishu_server._rules.clear()
    _sweep_outbox_until_sent()
    [card] = [m for m in feishu_server.messages() if m.reply_to == message_id]
    assert "Check the disk." in str(card.content) and card.uuid == f"{message_id}-0"
    assert len(llm_server.requests) == 1


def test_the_models_answer_cannot_mention_everyone_or_carry_unsafe_links(
    ai_app: Flask, llm_server: FakeLLMServer, feishu_server: Any
) -> None:
    """A planted article can make the model write anything; the card shows it without its power."""
    llm_server.script(Script(chunks=["Fixed. <at id=all></at> ", "[details](javascript:alert(1)) ",
                                     "[wiki](https://wiki.example/x)"]))
    payload = im_message("is it fixed", sender="ou_dave", chat_id="oc_ops")
    raw, headers = encrypted_push(payload)
    assert ai_app.test_client().post("/webhook/feishu", data=raw, headers=headers,
                                     content_type="application/json; charset=utf-8").status_code == 200
    process_event(db.session.execute(
        select(InboundEvent.id).where(InboundEvent.event_id == payload["header"]["event_id"])).scalar_one())
    (card,) = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    shown = [update["body"]["elements"][0]["content"] for update in card.updates]
    assert shown and all("<at" not in text and "javascript:" not in text for text in shown)
    assert "[wiki](https://wiki.example/x)" in shown[-1] and "details" in shown[-1]
