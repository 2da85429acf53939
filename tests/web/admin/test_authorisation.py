"""Every /admin and /api/v1 route, tried as nobody and as every role: the server decides, not the template."""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import select
from werkzeug.routing import Rule

from app.automation.models import Execution, ExecutionStatus
from app.inbox.models import InboundEvent
from app.infra.db import db
from app.inventory.schema import Role
from app.users.models import User
from app.users.service import sync_from_inventory
from app.users.tokens import create_token
from tests.conftest import INVENTORY, VERIFICATION_TOKEN
from tests.pushes import card_action, encrypted_push, signed_headers
from tests.web.admin.helpers import ROLES, IsolatedClient, forged_session_cookie, make_account, post, sign_in

PUBLIC = {"admin.sign_in", "admin.feishu_start", "admin.feishu_callback", "api.openapi"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def routes(app: Flask, prefix: str) -> Iterator[tuple[Rule, str, str]]:
    """(rule, method, url) for every route under prefix, sign-out last (it ends the session)."""
    rules = sorted((r for r in app.url_map.iter_rules() if r.rule.startswith(prefix)),
                   key=lambda r: (r.endpoint == "admin.sign_out", r.rule))
    for rule in rules:
        url = re.sub(r"<[^>]+>", "987654", rule.rule)
        assert "<" not in url, f"cannot fill in {rule.rule}"
        for method in sorted(m for m in rule.methods or () if m in METHODS):
            yield rule, method, url


def required_role(app: Flask, rule: Rule) -> Role | None:
    view = app.view_functions[rule.endpoint]
    return getattr(view, "required_role", None)


@pytest.mark.parametrize("prefix", ["/admin", "/api/v1"])
def test_every_route_declares_a_role_or_is_knowingly_public(app: Flask, prefix: str) -> None:
    found = list(routes(app, prefix))
    assert len(found) > 10
    for rule, _method, _url in found:
        if rule.endpoint in PUBLIC:
            assert required_role(app, rule) is None
            continue
        assert isinstance(required_role(app, rule), Role), f"{rule.endpoint} has no @requires"


def test_nobody_is_sent_to_sign_in_on_every_page(app: Flask) -> None:
    client = app.test_client()
    for rule, method, url in routes(app, "/admin"):
        if rule.endpoint in PUBLIC:
            continue
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.headers["Location"].startswith("/admin/login"), (method, url)


def test_nobody_gets_401_on_every_api_route(app: Flask) -> None:
    client = app.test_client()
    for rule, method, url in routes(app, "/api/v1"):
        if rule.endpoint in PUBLIC:
            continue
        for headers in ({}, {"Authorization": "Bearer oct_not-a-real-token"}, {"Authorization": "Basic eDp5"}):
            response = client.open(url, method=method, headers=headers, json={})
            assert response.status_code == 401, (method, url, headers, response.status_code)
            assert response.get_json()["error"]["code"] == "unauthorized"


def _check(app: Flask, prefix: str, call: Callable[[Role, str, str], Any]) -> None:
    tried = 0
    for rule, method, url in routes(app, prefix):
        need = required_role(app, rule)
        if need is None:
            continue
        for role in ROLES:
            response = call(role, method, url)
            where = (role, method, url, response.status_code)
            if role.at_least(need):
                assert response.status_code not in (401, 403), where
                assert response.status_code < 500, where
                if rule.endpoint != "admin.sign_out":  # the one page whose job is to send you to sign in
                    assert not response.headers.get("Location", "").startswith("/admin/login"), where
            else:
                assert response.status_code == 403, where
            tried += 1
    assert tried > 40


def test_every_page_checks_the_role(app: Flask, signed_in: Callable[[Role], Any]) -> None:
    clients = {role: signed_in(role) for role in ROLES}
    app.config["WTF_CSRF_ENABLED"] = False  # this test is about roles; test_csrf covers the tokens
    _check(app, "/admin", lambda role, method, url: clients[role].open(url, method=method, data={}))


def test_every_api_route_checks_the_role(app: Flask, accounts: dict[Role, User]) -> None:
    tokens = {role: create_token(login=str(role))[1] for role in ROLES}
    client = app.test_client()
    _check(app, "/api/v1", lambda role, method, url: client.open(
        url, method=method, json={}, headers={"Authorization": f"Bearer {tokens[role]}"}))


# -- forged credentials against every route --------------------------------------------------------


def test_a_session_cookie_forged_with_the_secret_key_opens_no_page_and_no_api_route(app: Flask) -> None:
    """SECRET_KEY leaked: a cookie naming the Feishu-only admin ou_alice, with the old constant check value."""
    sync_from_inventory()
    alice = db.session.execute(select(User).where(User.open_id == "ou_alice")).scalar_one()
    client = app.test_client()
    client.set_cookie("session", forged_session_cookie(app, alice.id))
    tried = 0
    for rule, method, url in routes(app, "/admin"):
        if rule.endpoint in PUBLIC:
            continue
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.headers["Location"].startswith("/admin/login"), (method, url)
        tried += 1
    for rule, method, url in routes(app, "/api/v1"):
        if rule.endpoint not in PUBLIC:
            assert client.open(url, method=method, json={}).status_code == 401, (method, url)
            tried += 1
    assert tried > 40


@pytest.mark.parametrize("value", [{"action": "deploy.approve", "execution_id": 1},
                                   {"action": "execution.cancel", "execution_id": 1},
                                   {"action": "alert.ack", "alert_id": 1}])
def test_a_legacy_card_click_forged_with_the_verification_token_alone_is_refused(app: Flask, value: dict) -> None:
    raw = json.dumps({"open_id": "ou_alice", "user_id": "u", "open_message_id": "om_x", "tenant_key": "t",
                      "token": f"c-{uuid.uuid4().hex}", "action": {"value": value, "tag": "button"}}).encode()
    response = app.test_client().post("/webhook/feishu", data=raw, content_type="application/json",
                                      headers=signed_headers(raw, key=VERIFICATION_TOKEN, legacy=True))
    assert response.status_code == 401
    assert db.session.execute(select(InboundEvent)).first() is None  # not even recorded


@pytest.fixture
def deploy_app(make_app: Callable[..., Flask], feishu_server: Any, tmp_path: Path) -> Iterator[Flask]:
    """The test inventory plus an app whose prod environment needs a second person's approval."""
    data = yaml.safe_load(INVENTORY.read_text())
    data["deploy"] = {"shop-api": {"environments": {"prod": {"hosts": ["web-01"], "approval": True}},
                                   "steps": [{"run": "deployer shop-api {version}"}]}}
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    app = make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
                   OPENCLAW_CONFIG=str(path))
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()


def _drain(app: Flask) -> None:
    from rq import SimpleWorker

    from app.infra.handoff import drain_all
    from app.infra import queue as queue_module

    queue_module._worker_app = app
    drain_all(app)
    worker = SimpleWorker(list(app.extensions[queue_module.EXTENSION].queues.values()),
                          connection=app.extensions["openclaw.redis"])
    worker.work(burst=True, with_scheduler=False)


def _click(app: Flask, execution_id: int, operator: str) -> dict:
    raw, headers = encrypted_push(card_action({"action": "deploy.approve", "execution_id": execution_id},
                                              operator=operator))
    response = app.test_client().post("/webhook/feishu", data=raw, headers=headers, content_type="application/json")
    assert response.status_code == 200
    return response.get_json()


def test_the_console_cannot_be_used_to_approve_ones_own_prod_deploy(deploy_app: Flask) -> None:
    make_account("admin", Role.ADMIN, open_id="ou_alice")
    client = deploy_app.test_client()
    assert sign_in(client, "admin").status_code == 302
    sent = post(client, "/admin/console", {"open_id": "ou_bob", "text": "/deploy shop-api prod 2.0.0"},
                token_from="/admin/console")
    assert sent.status_code == 302
    _drain(deploy_app)
    db.session.expire_all()
    execution = db.session.execute(select(Execution)).scalar_one()
    assert execution.status is ExecutionStatus.AWAITING_APPROVAL
    assert execution.requested_by == "ou_alice"  # the signed-in admin asked, whoever she spoke as

    own = _click(deploy_app, execution.id, "ou_alice")
    assert own["toast"]["type"] == "error" and "your own request" in own["toast"]["content"]
    db.session.expire_all()
    assert db.session.get(Execution, execution.id).status is ExecutionStatus.AWAITING_APPROVAL
    assert _click(deploy_app, execution.id, "ou_bob")["toast"]["type"] == "success"  # a second person may


def test_console_previews_of_read_only_commands_still_run_as_the_chosen_person(deploy_app: Flask) -> None:
    from app.audit.models import AuditEvent

    make_account("admin", Role.ADMIN, open_id="ou_alice")
    client = deploy_app.test_client()
    sign_in(client, "admin")
    post(client, "/admin/console", {"open_id": "ou_carol", "text": "/help"}, token_from="/admin/console")
    post(client, "/admin/console", {"open_id": "ou_carol", "text": "/pause testing"}, token_from="/admin/console")
    _drain(deploy_app)
    runs = db.session.execute(select(AuditEvent).where(AuditEvent.action == "command.run")
                              .order_by(AuditEvent.id)).scalars().all()
    assert [(r.actor, r.target) for r in runs] == [("ou_carol", "help"), ("ou_alice", "pause")]
