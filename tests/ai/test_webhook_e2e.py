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
