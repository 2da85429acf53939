"""Fixtures for the admin pages: an account per role and signed-in clients."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from app.infra.db import db
from app.inventory.schema import Role
from app.users.models import User
from tests.web.admin.feishu_oauth import FakeFeishuOAuth
from tests.web.admin.helpers import ROLES, IsolatedClient, make_account, sign_in


@pytest.fixture(autouse=True)
def _isolated_clients(request: pytest.FixtureRequest) -> None:
    """Every test client of the test's app starts with no cached signed-in user."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app").test_client_class = IsolatedClient


@pytest.fixture
def accounts(app: Flask) -> dict[Role, User]:
    """One local account per role, named after it (admin has a Feishu identity for the console)."""
    return {role: make_account(str(role), role, open_id="ou_alice" if role is Role.ADMIN else None)
            for role in ROLES}


@pytest.fixture
def signed_in(app: Flask, accounts: dict[Role, User]) -> Callable[[Role], Any]:
    """A fresh test client signed in with the given role."""

    def make(role: Role) -> Any:
        client = app.test_client()
        response = sign_in(client, str(role))
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def oauth() -> Iterator[FakeFeishuOAuth]:
    """Feishu's OAuth endpoints, faked on a loopback port."""
    server = FakeFeishuOAuth(app_id="cli_oauth", app_secret="oauth-secret").start()
    yield server
    server.stop()


@pytest.fixture
def feishu_app(make_app: Callable[..., Flask], oauth: FakeFeishuOAuth) -> Iterator[Flask]:
    """An app with "Sign in with Feishu" pointed at the fake OAuth server."""
    app = make_app(FEISHU_APP_ID="cli_oauth", FEISHU_APP_SECRET="oauth-secret", FEISHU_BASE_URL=oauth.url,
                   FEISHU_ACCOUNTS_URL=oauth.url, PUBLIC_URL="http://ops.example.test")
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
