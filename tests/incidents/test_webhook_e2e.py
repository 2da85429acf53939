"""End to end: a signed Feishu push of /incident open, the worker's job, the war room and the answer."""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.inbox.models import InboundEvent
from app.inbox.tasks import process_event
from app.infra.db import db
from tests.incidents.conftest import all_incidents
from tests.pushes import encrypted_push, im_message


def test_a_pushed_incident_open_makes_the_war_room_and_answers_with_its_link(app: Flask, feishu_server: Any) -> None:
    payload = im_message("/incident open --sev sev2 Payments are failing", sender="ou_bob", chat_id="oc_ops")
    raw, headers = encrypted_push(payload)
    response = app.test_client().post("/webhook/feishu", data=raw, headers=headers,
                                      content_type="application/json; charset=utf-8")
    assert response.status_code == 200, response.data
    event_pk = db.session.execute(
        select(InboundEvent.id).where(InboundEvent.event_id == payload["header"]["event_id"])).scalar_one()
    process_event(event_pk)
    (incident,) = all_incidents()
    assert incident.opened_event_id == payload["header"]["event_id"] and incident.war_room_chat_id
    (answer,) = [m for m in feishu_server.messages() if m.reply_to == payload["event"]["message"]["message_id"]]
    assert answer.text is not None and answer.text.startswith(f"🚨 Opened INC-{incident.id} [sev2] Payments")
    assert f"openChatId={incident.war_room_chat_id}" in answer.text
    assert feishu_server.chats[incident.war_room_chat_id].name == f"INC-{incident.id} Payments are failing"
