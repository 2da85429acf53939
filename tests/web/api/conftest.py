"""Fixtures for the API: an account and a bearer token per role."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.inventory.schema import Role
from app.users.tokens import create_token
from tests.web.admin.helpers import ROLES, make_account


class Api:
    """A test client that sends a role's bearer token."""

    def __init__(self, app: Flask, tokens: dict[Role, str]) -> None:
        self.client = app.test_client()
        self.tokens = tokens

    def call(self, role: Role | None, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def get(self, path: str, role: Role = Role.ADMIN, **kwargs: Any) -> Any:
        return self.call(role, "GET", path, **kwargs)

    def post(self, path: str, role: Role = Role.ADMIN, **kwargs: Any) -> Any:
        return self.call(role, "POST", path, **kwargs)

    def put(self, path: str, role: Role = Role.ADMIN, **kwargs: Any) -> Any:
        return self.call(role, "PUT", path, **kwargs)


@pytest.fixture
def tokens(app: Flask) -> dict[Role, str]:
    """An account named after each role and a token for it."""
    for role in ROLES:
        make_account(str(role), role, open_id="ou_alice" if role is Role.ADMIN else None)
    return {role: create_token(login=str(role), name="test")[1] for role in ROLES}


@pytest.fixture
def api(app: Flask, tokens: dict[Role, str]) -> Api:
    return Api(app, tokens)
