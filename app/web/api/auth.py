"""Bearer-token authentication and @requires(Role.X) for the API."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from app.inventory.schema import Role
from app.users import tokens
from app.users.models import User
from app.users.service import still_entitled
from app.web.api.errors import api_error

F = TypeVar("F", bound=Callable[..., Any])


def bearer_user() -> User | None:
    """The account whose active token is in the Authorization header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    user = tokens.user_for(token.strip())
    return user if user is not None and still_entitled(user) else None


def requires(role: Role) -> Callable[[F], F]:
    """Allow the view to tokens whose account has at least role: 401 without a valid token, 403 below role."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = bearer_user()
            if user is None:
                return api_error(401, "a valid API token is required: Authorization: Bearer <token>")
            if not Role(user.role).at_least(role):
                return api_error(403, f"this needs the {role} role")
            g.api_user = user
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


def current() -> User:
    """The account the request's token belongs to."""
    user: User = g.api_user
    return user
