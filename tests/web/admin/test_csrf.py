"""CSRF: every state-changing /admin request needs the session's token; the bearer API does not."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from app.alerts.models import Alert
from app.infra.db import db
from app.inventory.schema import Role
from tests.web.admin.helpers import PASSWORD, csrf_token, make_alert, post


def test_a_post_without_a_token_is_refused_and_changes_nothing(app: Flask, signed_in: Callable[[Role], Any]) -> None:
    alert = make_alert()
    client = signed_in(Role.OPERATOR)
    refused = client.post(f"/admin/alerts/{alert.id}/ack")
    assert refused.status_code == 400
    assert "CSRF" in refused.get_data(as_text=True)
    forged = client.post(f"/admin/alerts/{alert.id}/ack", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).status == "firing"
    assert post(client, f"/admin/alerts/{alert.id}/ack").status_code == 302
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).status == "acknowledged"


def test_another_sessions_token_does_not_work(app: Flask, signed_in: Callable[[Role], Any]) -> None:
    alert = make_alert()
    mine, theirs = signed_in(Role.OPERATOR), signed_in(Role.OPERATOR)
    stolen = csrf_token(theirs, "/admin/")
    assert mine.post(f"/admin/alerts/{alert.id}/ack", data={"csrf_token": stolen}).status_code == 400


def test_sign_in_and_sign_out_need_the_token_too(app: Flask, signed_in: Callable[[Role], Any]) -> None:
    signed_in(Role.USER)  # creates the accounts
    assert app.test_client().post("/admin/login", data={"login": "user", "password": PASSWORD}).status_code == 400
    client = signed_in(Role.USER)
    assert client.post("/admin/logout").status_code == 400
    assert client.get("/admin/").status_code == 200  # still signed in


def test_the_bearer_api_needs_no_csrf_token(app: Flask, signed_in: Callable[[Role], Any]) -> None:
    from app.users.tokens import create_token

    signed_in(Role.USER)
    alert = make_alert()
    _row, token = create_token(login="operator")
    response = app.test_client().post(f"/api/v1/alerts/{alert.id}/ack", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["changed"] is True
