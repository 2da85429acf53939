"""The alert card's buttons through signed, encrypted card.action.trigger callbacks."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
import pytest
from flask import Flask

from app.alerts import service
from app.alerts.types import AlertStatus
from app.audit.models import AuditEvent
from app.infra.db import db
from tests.alerts.conftest import all_alerts, am_alert, am_payload, cards_to, post_am
from tests.pushes import card_action, encrypted_push

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode


def click(client: Any, value: dict[str, Any], *, operator: str = "ou_bob", message_id: str,
          event_id: str | None = None) -> Any:
    payload = card_action(value, operator=operator, event_id=event_id or uuid.uuid4().hex)
    payload["event"]["context"] = {"open_message_id": message_id, "open_chat_id": "oc_ops"}
    raw, headers = encrypted_push(payload)
    response = client.post("/webhook/feishu", data=raw, headers=headers, content_type="application/json")
    assert response.status_code == 200
    return response.json


def audited(action: str) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == action)) or 0


def _fired(client: Any, drain: Any) -> Any:
    post_am(client, am_payload(am_alert()))
    drain()
    return all_alerts()[0]


def test_acknowledge_click_updates_the_card_for_everyone_and_is_audited(app: Flask, client: Any, drain: Any) -> None:
    alert = _fired(client, drain)
    body = click(client, {"action": "alert.ack", "alert_id": alert.id}, message_id=alert.card_message_id)
    assert body["toast"]["type"] == "success"
    card = body["card"]["data"]
    assert card["header"]["template"] == "wathet" and "Acknowledged** by <at id=ou_bob>" in str(card)
    assert "Acknowledge" not in [b["text"]["content"] for b in _buttons(card)]
    fresh = all_alerts()[0]
    assert fresh.status == AlertStatus.ACKNOWLEDGED and fresh.acked_by == "ou_bob"
    assert fresh.next_escalation_at is None and not fresh.card_stale
    assert audited("alert.ack") == 1 and audited("card.action") == 1


def test_redelivered_callback_and_repeated_click_change_nothing_twice(app: Flask, client: Any, drain: Any) -> None:
    alert = _fired(client, drain)
    value = {"action": "alert.ack", "alert_id": alert.id}
    first = click(client, value, message_id=alert.card_message_id, event_id="evt-ack-1")
    acked_at = all_alerts()[0].acked_at
    assert click(client, value, message_id=alert.card_message_id, event_id="evt-ack-1") == {}
    again = click(client, value, operator="ou_alice", message_id=alert.card_message_id)
    assert first["toast"]["type"] == "success" and again["toast"]["content"] == "Already acknowledged."
    fresh = all_alerts()[0]
    assert fresh.acked_by == "ou_bob" and fresh.acked_at == acked_at
    assert audited("alert.ack") == 1


def test_clicker_without_the_role_is_refused_and_nothing_changes(app: Flask, client: Any, drain: Any) -> None:
    alert = _fired(client, drain)
    for action in ("alert.ack", "alert.resolve", "alert.silence"):
        body = click(client, {"action": action, "alert_id": alert.id}, operator="ou_carol",
                     message_id=alert.card_message_id)
        assert body["toast"]["type"] == "error" and "operator" in body["toast"]["content"] and "card" not in body
    assert all_alerts()[0].status == AlertStatus.FIRING and service.active_silences() == []
    assert audited("card.denied") == 3


def test_resolve_and_silence_buttons(app: Flask, client: Any, drain: Any, feishu_server: Any) -> None:
    alert = _fired(client, drain)
    silenced = click(client, {"action": "alert.silence", "alert_id": alert.id, "duration": "1h"},
                     message_id=alert.card_message_id)
    assert "Silenced alertname=HighCPU,host=web-01 for 1h" in silenced["toast"]["content"]
    assert "Silenced** until" in str(silenced["card"]["data"])
    twice = click(client, {"action": "alert.silence", "alert_id": alert.id}, message_id=alert.card_message_id)
    assert twice["toast"]["content"].startswith("Already silenced") and len(service.active_silences()) == 1
    resolved = click(client, {"action": "alert.resolve", "alert_id": alert.id}, message_id=alert.card_message_id)
    assert resolved["card"]["data"]["header"]["template"] == "green"
    assert all_alerts()[0].status == AlertStatus.RESOLVED and all_alerts()[0].open_key is None
    assert len(cards_to(feishu_server)) == 1


def test_host_status_button_queues_a_status_check_for_any_user(app: Flask, client: Any, drain: Any) -> None:
    from app.automation.models import Execution

    alert = _fired(client, drain)
    host = click(client, {"action": "alert.host", "alert_id": alert.id}, operator="ou_stranger",
                 message_id=alert.card_message_id)
    assert host["toast"]["content"].startswith("Checking web-01 (1 open alert(s))")
    (execution,) = db.session.scalars(sa.select(Execution)).all()
    assert (str(execution.kind), execution.args["selector"], execution.requested_by) == ("status", "web-01",
                                                                                         "ou_stranger")


def _buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for element in card["body"]["elements"]:
        for column in element.get("columns", []):
            found += [e for e in column["elements"] if e["tag"] == "button"]
    return found


def test_card_has_the_five_buttons_and_admin_link(app: Flask, client: Any, drain: Any, feishu_server: Any) -> None:
    alert = _fired(client, drain)
    (card,) = cards_to(feishu_server)
    buttons = _buttons(card.content)
    assert [b["text"]["content"] for b in buttons] == ["Acknowledge", "Silence 1h", "Resolve", "Host status",
                                                       "Open in admin"]
    assert buttons[-1]["behaviors"][0]["default_url"] == f"http://127.0.0.1:8000/admin/alerts/{alert.id}"
    assert buttons[0]["behaviors"][0]["value"] == {"action": "alert.ack", "alert_id": alert.id}


def test_host_status_button_while_the_queue_is_down_says_when_it_will_run(
    app: Flask, client: Any, drain: Any, monkeypatch: Any,
) -> None:
    import app.infra.queue as queue
    from app.automation.models import Execution, ExecutionStatus

    alert = _fired(client, drain)

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise ConnectionError("Redis is unreachable")

    monkeypatch.setattr(queue, "enqueue", refuse)
    host = click(client, {"action": "alert.host", "alert_id": alert.id}, message_id=alert.card_message_id)
    (execution,) = db.session.scalars(sa.select(Execution)).all()
    assert execution.status is ExecutionStatus.QUEUED  # recorded; the execution sweep starts it later
    assert host["toast"]["type"] == "warning"
    assert f"(#{execution.id}); it will start when the job queue is back" in host["toast"]["content"]


def test_a_click_that_fails_mid_way_does_not_claim_nothing_changed(
    app: Flask, client: Any, drain: Any, monkeypatch: Any,
) -> None:
    from app.chat import registry

    alert = _fired(client, drain)
    spec = registry._card_actions["alert.ack"]

    def half_done(ctx: Any, action: Any) -> Any:
        service.acknowledge(alert_id=alert.id, actor=ctx.open_id, chat_id=ctx.chat_id)  # committed ...
        raise RuntimeError("... and then something broke")

    import dataclasses

    monkeypatch.setitem(registry._card_actions, "alert.ack", dataclasses.replace(spec, handler=half_done))
    body = click(client, {"action": "alert.ack", "alert_id": alert.id}, message_id=alert.card_message_id)
    assert body["toast"]["type"] == "error"
    assert "nothing was changed" not in body["toast"]["content"]
    assert "may be partly done" in body["toast"]["content"]
    assert all_alerts()[0].status == AlertStatus.ACKNOWLEDGED
