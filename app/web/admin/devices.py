"""The known-device cookie: a browser that signed in to an account before may still sign in to it while the
account backs off after failed guesses (OWASP's device cookies). It names the account and is signed with
SECRET_KEY and the account's password hash, so a password reset forgets every device; it grants nothing else.
"""
from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.users.models import User

COOKIE = "openclaw_device"
MAX_AGE = 90 * 24 * 3600
_SALT = "openclaw-signin-device"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _password_tag(user: User) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def known_device_of(login: str) -> int | None:
    """The account id this browser's device cookie vouches for, when it is for login and still valid."""
    from app.users.accounts import get_by_login

    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=MAX_AGE)
    except BadSignature:
        return None
    user = get_by_login(login.strip()[:64]) if login else None
    if user is None or not isinstance(data, dict) or data.get("u") != user.id or data.get("p") != _password_tag(user):
        return None
    return user.id


def remember(response: Any, user: User) -> Any:
    """Mark this browser as one that signed in to user (set on every good password sign-in)."""
    response.set_cookie(
        COOKIE, _serializer().dumps({"u": user.id, "p": _password_tag(user)}), max_age=MAX_AGE, path="/admin",
        httponly=True, samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return response
