"""Bot menu clicks run the inventory's command as the clicking person, with the same checks."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.audit.models import AuditEvent
from app.inbox.models import EventStatus, InboundEvent
from app.infra.db import db
from tests.fakes.feishu_longconn import FakeLongConnServer
from tests.fakes.fixtures import Running
from tests.pushes import signed_headers
from tests.queueing import drain_all


def menu_click(key: str, open_id: str, event_id: str | None = None) -> dict[str, Any]:
    """An application.bot.menu_v6 event as the platform sends it."""
    return {
        "schema": "2.0",
        "header": {"event_id": event_id or uuid.uuid4().hex, "event_type": "application.bot.menu_v6",
                   "create_time": "1700000000000", "token": "rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV",
                   "app_id": "cli_test", "tenant_key": "t"},
        "event": {"operator": {"operator_name": "someone",
                               "operator_id": {"open_id": open_id, "union_id": f"on_{open_id}", "user_id": "u1"}},
                  "event_key": key, "timestamp": 1700000000},
    }


def sent_to(feishu_server: Any, open_id: str) -> list[Any]:
    return [m for m in feishu_server.messages() if m.receive_id == open_id and m.receive_id_type == "open_id"]


def as_text(message: Any) -> str:
    return message.text if message.text is not None else json.dumps(message.content, ensure_ascii=False)


def test_a_menu_click_over_the_long_connection_runs_the_command_for_that_person(
    app: Flask, longconn: FakeLongConnServer, feishu_server: Any, start_connector: Callable[..., Running],
    drain: Callable[[], None],
) -> None:
    start_connector(app)
    message_id = longconn.send(menu_click("oncall", "ou_alice"))
    assert longconn.wait_ack(message_id)[0].body == {"code": 200}
    drain_all(app, drain)
    [reply] = sent_to(feishu_server, "ou_alice")
    assert "platform" in as_text(reply)
    record = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "command.run")).one()
    assert (record.actor, record.target, record.details["source"]) == ("ou_alice", "oncall", "menu")


def test_a_menu_click_needing_a_higher_role_is_refused_by_name(
    client: Any, app: Flask, feishu_server: Any, drain: Callable[[], None],
) -> None:
    raw = json.dumps(menu_click("restart_nginx", "ou_dave")).encode()  # default role: user
    response = client.post("/webhook/feishu", data=raw, headers=signed_headers(raw), content_type="application/json")
    assert response.status_code == 200  # the webhook takes menu clicks too
    drain_all(app, drain)
    [reply] = sent_to(feishu_server, "ou_dave")
    assert reply.text == "Refused: /restart needs the operator role; you have user."
    assert db.session.scalars(sa.select(AuditEvent.action)).all() == ["command.denied"]


def test_an_unknown_menu_key_is_recorded_and_ignored(
    app: Flask, longconn: FakeLongConnServer, feishu_server: Any, start_connector: Callable[..., Running],
    drain: Callable[[], None],
) -> None:
    start_connector(app)
    longconn.wait_ack(longconn.send(menu_click("not_configured", "ou_alice")))
    drain_all(app, drain)
    db.session.expire_all()
    [event] = db.session.scalars(sa.select(InboundEvent)).all()
    assert event.status == EventStatus.IGNORED
    assert sent_to(feishu_server, "ou_alice") == []


@pytest.mark.parametrize(("yaml_text", "problem"), [
    ("feishu: {menu: {status_all: status}}", "feishu.menu.status_all: expected one slash command"),
    ("feishu: {menu: {'bad key': /status}}", "feishu.menu.bad key"),
    ("feishu: {menus: {}}", "feishu.menus: unknown key"),
])
def test_bad_menu_configuration_names_the_key(yaml_text: str, problem: str) -> None:
    from app.errors import ConfigError
    from app.inventory.loader import parse_inventory

    with pytest.raises(ConfigError, match=problem):
        parse_inventory(yaml_text, "openclaw.yaml")
