"""/incident note, close, list and show: the timeline, idempotent closing, posts to the war room."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.incidents.models import IncidentStatus
from app.infra.db import db
from tests.incidents.conftest import all_incidents, say

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode


def _open(title: str = "Payments are failing") -> int:
    say(f"/incident open {title}")
    return all_incidents()[-1].id


def test_notes_build_the_timeline_in_order(app: Flask, feishu_server: Any) -> None:
    number = _open()
    assert say(f"/incident note {number} rolled back v2.3") == f"📝 Noted on INC-{number}."
    room = all_incidents()[0].war_room_chat_id
    assert say(f"/incident note INC-{number} error rate falling", open_id="ou_dave", chat_id=room) == (
        f"📝 Noted on INC-{number}.")
    shown = say(f"/incident show #{number}", open_id="ou_stranger")
    timeline = shown.split("Timeline:\n", 1)[1].splitlines()
    assert timeline[0].endswith("• Bob: Opened (sev3): Payments are failing")
    assert "• Bob: War room created with" in timeline[1]
    assert timeline[2].endswith("📝 Bob: rolled back v2.3")
    assert timeline[3].endswith("📝 Dave: error rate falling") and len(timeline) == 4
    # A note written outside the war room is copied into it; one written inside is not repeated.
    assert feishu_server.texts(room) == [f"📝 INC-{number} note from Bob: rolled back v2.3"]


def test_note_errors_are_clear(app: Flask, feishu_server: Any) -> None:
    number = _open()
    assert say("/incident note") == "missing id\nUsage: /incident note ID TEXT"
    assert say(f"/incident note {number}") == "missing text\nUsage: /incident note ID TEXT"
    assert "'abc' is not an incident number" in say("/incident note abc hello")
    assert say("/incident note 99 hello") == "No incident #99."
    assert say("/incident show 99") == "No incident #99."
    assert say("/incident close 99") == "No incident #99."
    assert "needs the operator role" in say(f"/incident note {number} hi", open_id="ou_stranger")


def test_close_resolves_posts_the_timeline_and_marks_the_card(app: Flask, feishu_server: Any) -> None:
    number = _open()
    say(f"/incident note {number} rolled back v2.3")
    answer = say(f"/incident close {number} bad deploy of v2.3; rolled back")
    (incident,) = all_incidents()
    assert incident.status == IncidentStatus.RESOLVED and incident.resolved_by == "ou_bob"
    assert incident.summary == "bad deploy of v2.3; rolled back" and incident.resolved_at is not None
    assert answer.startswith(f"✅ INC-{number} Payments are failing resolved after 1m by Bob.")
    assert "Summary: bad deploy of v2.3; rolled back\nTimeline:\n" in answer
    assert "📝 Bob: rolled back v2.3" in answer and answer.rstrip().endswith("Resolved: bad deploy of v2.3; rolled back")
    room_texts = feishu_server.texts(incident.war_room_chat_id)
    assert room_texts[-1] == answer  # the whole timeline, in the war room too
    card = next(m for m in feishu_server.messages() if m.message_id == incident.card_message_id)
    assert card.updates[-1]["header"]["template"] == "green"
    assert card.updates[-1]["header"]["title"]["content"].startswith(f"[RESOLVED] INC-{number}")


def test_closing_twice_is_harmless(app: Flask, feishu_server: Any) -> None:
    number = _open()
    say(f"/incident close {number} fixed")
    posts = len(feishu_server.messages())
    again = say(f"/incident close {number} fixed again", open_id="ou_dave")
    assert again.startswith(f"INC-{number} is already resolved (by Bob at ")
    (incident,) = all_incidents()
    assert incident.summary == "fixed" and incident.resolved_by == "ou_bob"
    assert len(feishu_server.messages()) == posts
    closes = db.session.query(AuditEvent).filter(AuditEvent.action == "incident.close").count()
    assert closes == 1


def test_closing_from_the_war_room_tells_the_chat_it_was_opened_in(app: Flask, feishu_server: Any) -> None:
    number = _open()
    room = all_incidents()[0].war_room_chat_id
    say(f"/incident close {number} fixed", open_id="ou_dave", chat_id=room)
    assert feishu_server.texts("oc_ops") == [f"✅ INC-{number} Payments are failing resolved by Dave: fixed"]
    assert feishu_server.texts(room) == []  # the reply itself carries the timeline there


def test_list_shows_open_incidents_and_all_shows_resolved_too(app: Flask, feishu_server: Any) -> None:
    assert say("/incident list") == "No open incidents."
    first, second = _open("Payments are failing"), _open("Search is slow")
    say(f"/incident close {first} fixed")
    listing = say("/incident list", open_id="ou_stranger")
    assert listing.startswith("Open incidents:\n")
    assert f"INC-{second} [sev3] Search is slow · open for 1m · commander Bob · war room" in listing
    assert f"INC-{first} " not in listing
    everything = say("/incident list all")
    assert f"INC-{first} [sev3] Payments are failing · resolved after 1m" in everything
    assert "must be one of: open, all" in say("/incident list closed")


def test_every_change_is_audited_and_the_chain_verifies(app: Flask, feishu_server: Any) -> None:
    say("/incident open Payments", open_id="ou_stranger")
    number = _open()
    say(f"/incident note {number} looking")
    say(f"/incident close {number} done")
    say(f"/incident close {number} done")
    actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.seq)]
    for action in ("command.denied", "incident.open", "incident.war_room", "incident.note", "incident.close"):
        assert action in actions
    assert actions.count("incident.close") == 1
    targets = {e.target for e in db.session.query(AuditEvent).filter(AuditEvent.action.like("incident.%"))}
    assert targets == {f"incident:{number}"}
    assert audit_service.verify().ok
