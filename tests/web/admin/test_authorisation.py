"""Every /admin and /api/v1 route, tried as nobody and as every role: the server decides, not the template."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

from app.inventory.schema import Role
from app.users.models import User
from app.users.tokens import create_token
from tests.web.admin.helpers import ROLES

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
