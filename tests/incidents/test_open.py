"""/incident open: the incident, its war-room chat (members, card, idempotency) and the notice here."""
from __future__ import annotations

from typing import Any

from flask import Flask

from app.incidents import service, war_room
from app.incidents.models import IncidentSeverity, IncidentStatus
from tests.incidents.conftest import all_incidents, ask, make_alert, on_call_now, say


def _war_rooms(feishu_server: Any) -> list[Any]:
    return [chat for chat in feishu_server.chats.values() if chat.chat_id != "oc_ops"]


def test_open_creates_a_war_room_with_the_opener_and_everyone_on_call(app: Flask, feishu_server: Any) -> None:
    answer = say("/incident open --sev sev2 Payments are failing")
    (incident,) = all_incidents()
    assert (incident.title, incident.severity, incident.status) == ("Payments are failing", IncidentSeverity.SEV2,
                                                                    IncidentStatus.OPEN)
    assert (incident.commander, incident.opened_by, incident.chat_id) == ("ou_bob", "ou_bob", "oc_ops")
    (room,) = _war_rooms(feishu_server)
    assert room.name == f"INC-{incident.id} Payments are failing"
    assert room.members == {"ou_bob", *on_call_now()}  # no alert linked: everyone on call in every schedule
    assert incident.war_room_chat_id == room.chat_id
    assert answer.startswith(f"🚨 Opened INC-{incident.id} [sev2] Payments are failing, commander Bob.")
    assert f"openChatId={room.chat_id}" in answer
    (create,) = feishu_server.requests_to("/open-apis/im/v1/chats", "POST")
    assert create.query["uuid"].startswith(f"openclaw-inc-{incident.id}-")


def test_the_war_room_gets_the_incident_card(app: Flask, feishu_server: Any) -> None:
    say("/incident open --sev sev1 Checkout down")
    (incident,) = all_incidents()
    (card,) = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    assert card.chat_id == incident.war_room_chat_id and card.message_id == incident.card_message_id
    assert card.content["header"]["title"]["content"] == f"[SEV1] INC-{incident.id} Checkout down"
    assert card.content["header"]["template"] == "red"
    body = card.content["body"]["elements"][0]["content"]
    assert "**Commander** <at id=ou_bob></at>" in body
    assert f"/incident note {incident.id} TEXT" in card.content["body"]["elements"][1]["content"]
    # sev1: everyone but the opener gets an in-app buzz on the card, and the timeline says so.
    ((message_id, kind, people),) = feishu_server.buzzes
    assert (message_id, kind, set(people)) == (card.message_id, "app", set(on_call_now()) - {"ou_bob"})
    assert "Buzzed" in say(f"/incident show {incident.id}")


def test_options_are_read_only_before_the_title(app: Flask, feishu_server: Any) -> None:
    say("/incident open Disk --sev is a word here")
    say("/incident open --sev=P4 Minor blip")
    first, second = all_incidents()
    assert (first.title, first.severity) == ("Disk --sev is a word here", "sev3")
    assert (second.title, second.severity) == ("Minor blip", "sev4")


def test_open_with_bad_arguments_answers_usage(app: Flask, feishu_server: Any) -> None:
    assert say("/incident open").startswith("an incident needs a title")
    assert "Usage: /incident open [--sev sev1|sev2|sev3|sev4] [--alert ID] TITLE" in say("/incident open")
    assert "'sev9' is not a severity" in say("/incident open --sev sev9 Bad")
    assert "unknown option --owner" in say("/incident open --owner x Bad")
    assert say("/incident open --alert 999 Something") == "No alert #999."
    assert "Usage: /incident open" in say("/incident")
    assert all_incidents() == [] and _war_rooms(feishu_server) == []


def test_users_and_auditors_are_refused_and_nothing_is_opened(app: Flask, feishu_server: Any) -> None:
    assert say("/incident open Payments", open_id="ou_stranger") == (
        "Refused: /incident open needs the operator role; you have user.")
    assert "needs the operator role; you have auditor" in say("/incident open Payments", open_id="ou_carol")
    assert all_incidents() == [] and _war_rooms(feishu_server) == []
    assert say("/incident list", open_id="ou_stranger") == "No open incidents."


def test_a_redelivered_message_opens_one_incident_and_one_chat(app: Flask, feishu_server: Any) -> None:
    say("/incident open Payments are failing", event_id="ev-1")
    again = say("/incident open Payments are failing", event_id="ev-1")
    (incident,) = all_incidents()
    assert again.startswith(f"INC-{incident.id} [sev3] Payments are failing is already open for this message.")
    assert len(_war_rooms(feishu_server)) == 1
    assert len([m for m in feishu_server.messages() if m.msg_type == "interactive"]) == 1
    assert feishu_server.buzzes == []  # sev3 is not paged


def test_a_retry_after_a_crash_finds_the_chat_feishu_already_made(app: Flask, feishu_server: Any) -> None:
    say("/incident open Payments are failing")
    (incident,) = all_incidents()
    first_room = incident.war_room_chat_id
    incident.war_room_chat_id = incident.card_message_id = None  # as if the worker died right after create_chat
    app.extensions["sqlalchemy"].session.commit()
    room = war_room.set_up(incident.id, actor="ou_bob")
    assert room.chat_id == first_room and len(_war_rooms(feishu_server)) == 1
    assert service.get_incident_or_raise(incident.id).war_room_chat_id == first_room


def test_a_linked_alert_brings_its_own_on_call_and_its_title(app: Flask, feishu_server: Any) -> None:
    alert = make_alert(service="postgres", host="db-01", alertname="ReplicationLag", acked_by="ou_dave")
    answer = say(f"/incident open --alert {alert.id}", open_id="ou_alice")
    (incident,) = all_incidents()
    assert incident.title == "ReplicationLag on db-01" and incident.alert_ids == [alert.id]
    (room,) = _war_rooms(feishu_server)
    assert room.members == {"ou_alice", "ou_dave", *on_call_now("database")}
    assert f"Linked alert #{alert.id} ReplicationLag on db-01 (acknowledged)." in answer
    card = next(m for m in feishu_server.messages() if m.msg_type == "interactive")
    assert f"#{alert.id} ReplicationLag on db-01" in card.content["body"]["elements"][0]["content"]


def test_an_alert_of_a_service_without_a_schedule_falls_back_to_everyone_on_call(
    app: Flask, feishu_server: Any
) -> None:
    alert = make_alert(service=None, host="web-01", alertname="Odd")
    say(f"/incident open --alert {alert.id} Odd things")
    (room,) = _war_rooms(feishu_server)
    assert room.members == {"ou_bob", *on_call_now()}


def test_a_refused_chat_creation_leaves_the_incident_open_and_room_retries(app: Flask, feishu_server: Any) -> None:
    feishu_server.fail_next("/open-apis/im/v1/chats", status=400, code=232024, msg="users not in visibility")
    answer = say("/incident open Payments are failing")
    (incident,) = all_incidents()
    assert incident.is_open and incident.war_room_chat_id is None
    assert "could not be set up (Feishu refused: users not in visibility)" in answer
    assert f"/incident room {incident.id}" in answer
    retry = say(f"/incident room {incident.id}", open_id="ou_dave")
    (room,) = _war_rooms(feishu_server)
    assert retry == f"INC-{incident.id} war room: https://applink.feishu.cn/client/chat/open?openChatId={room.chat_id}"
    assert "ou_dave" in room.members and "ou_bob" in room.members


def test_without_feishu_the_incident_opens_and_says_there_is_no_war_room(embedded_app: Flask) -> None:
    answer = say("/incident open Payments are failing")
    (incident,) = all_incidents()
    assert incident.is_open and incident.war_room_chat_id is None
    assert "No war-room chat: Feishu is not configured (embedded/console mode); keep the conversation here." in answer
    assert "No war-room chat" in say(f"/incident show {incident.id}")
    assert say(f"/incident note {incident.id} still down") == f"📝 Noted on INC-{incident.id}."
    closed = say(f"/incident close {incident.id} fixed by restart")
    assert closed.startswith(f"✅ INC-{incident.id} Payments are failing resolved after")
    assert "has no war-room chat" in say(f"/incident room {incident.id}")
    assert ask("/incident list").text == "No open incidents."


def test_a_card_that_failed_to_post_is_posted_by_room(app: Flask, feishu_server: Any) -> None:
    feishu_server.fail_next("/open-apis/im/v1/messages", status=400, code=230027, msg="missing permission")
    answer = say("/incident open Payments are failing")
    (incident,) = all_incidents()
    assert incident.war_room_chat_id and incident.card_message_id is None and "could not be set up" in answer
    say(f"/incident room {incident.id}")
    (incident,) = all_incidents()
    cards = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    assert len(cards) == 1 and cards[0].message_id == incident.card_message_id
    assert len(_war_rooms(feishu_server)) == 1
