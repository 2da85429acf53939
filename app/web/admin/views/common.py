"""Small helpers shared by the page views: page arguments, filters, the signed-in actor."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user

from app.users.models import User


def me() -> User:
    """The signed-in account."""
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def actor() -> str:
    """The signed-in account as services and the audit log name it."""
    return me().actor


def form_value(name: str, default: str = "") -> Any:
    """A posted form value, stripped."""
    return (request.form.get(name) or default).strip()
