"""Sign in with Feishu: state checked, the code exchanged once, people mapped to roles by open_id."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.infra.db import db
from app.inventory.schema import Role
from tests.web.admin.feishu_oauth import FakeFeishuOAuth
from tests.web.admin.helpers import feishu_start as start
from tests.web.admin.helpers import make_account


def test_an_inventory_person_signs_in_with_feishu_and_gets_their_inventory_role(
    feishu_app: Flask, oauth: FakeFeishuOAuth
) -> None:
    client = feishu_app.test_client()
    assert "Sign in with Feishu" in client.get("/admin/login").get_data(as_text=True)
    query = start(client, "/admin/executions")
    assert query["client_id"] == ["cli_oauth"]
    assert query["redirect_uri"] == ["http://ops.example.test/admin/login/feishu/callback"]
    code = oauth.issue_code("ou_bob", "Bob")
    response = client.get(f"/admin/login/feishu/callback?code={code}&state={query['state'][0]}")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/executions"
    assert client.get("/admin/executions").status_code == 200  # Bob is an operator in the inventory
    assert client.get("/admin/console").status_code == 403
    assert oauth.seen[0]["redirect_uri"] == "http://ops.example.test/admin/login/feishu/callback"
    signed = db.session.execute(select(AuditEvent).where(AuditEvent.action == "web.sign_in")).scalar_one()
    assert signed.actor == "ou_bob" and signed.details["method"] == "feishu"


def test_a_local_account_with_that_open_id_is_the_one_signed_in(feishu_app: Flask, oauth: FakeFeishuOAuth) -> None:
    make_account("dana", Role.AUDITOR, open_id="ou_dana")
    client = feishu_app.test_client()
    state = start(client)["state"][0]
    client.get(f"/admin/login/feishu/callback?code={oauth.issue_code('ou_dana', 'Dana')}&state={state}")
    assert client.get("/admin/audit").status_code == 200
    assert client.get("/admin/executions/1").status_code == 404  # auditor: allowed, nothing there


def test_strangers_forged_states_and_reused_codes_are_refused(feishu_app: Flask, oauth: FakeFeishuOAuth) -> None:
    client = feishu_app.test_client()
    state = start(client)["state"][0]
    stranger = client.get(f"/admin/login/feishu/callback?code={oauth.issue_code('ou_zed', 'Zed')}&state={state}",
                          follow_redirects=True)
    assert "Zed has no account here" in stranger.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    refused = db.session.execute(select(AuditEvent).where(AuditEvent.action == "web.sign_in_failed")).scalar_one()
    assert refused.actor == "ou_zed"

    code = oauth.issue_code("ou_bob", "Bob")
    start(client)
    assert client.get(f"/admin/login/feishu/callback?code={code}&state=forged").status_code == 400
    other = feishu_app.test_client()
    assert other.get(f"/admin/login/feishu/callback?code={code}&state=whatever").status_code == 400  # no state

    state = start(client)["state"][0]
    client.get(f"/admin/login/feishu/callback?code={code}&state={state}")
    assert client.get("/admin/").status_code == 200
    reuse = feishu_app.test_client()
    state = start(reuse)["state"][0]
    again = reuse.get(f"/admin/login/feishu/callback?code={code}&state={state}", follow_redirects=True)
    assert "did not confirm" in again.get_data(as_text=True)


@pytest.mark.parametrize("state", ["%C3%A9t%C3%A9", "%E7%8A%B6%E6%80%81", "%ED%A0%80"])
def test_a_non_ascii_state_is_a_400_not_a_500(feishu_app: Flask, oauth: FakeFeishuOAuth, state: str) -> None:
    client = feishu_app.test_client()
    start(client)
    code = oauth.issue_code("ou_bob", "Bob")
    response = client.get(f"/admin/login/feishu/callback?code={code}&state={state}")
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302  # not signed in


def test_feishu_sign_in_is_off_without_app_credentials(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context():
        client = app.test_client()
        assert client.get("/admin/login/feishu").status_code == 404
        assert "Sign in with Feishu" not in client.get("/admin/login").get_data(as_text=True)
