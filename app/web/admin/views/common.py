"""Small helpers shared by the page views: page arguments, filters, the signed-in actor."""
from __future__ import annotations

from typing import Any, TypeVar

from flask import abort, request
from flask_login import current_user

from app.users.models import User
from app.web.queries.pages import page_args

T = TypeVar("T")


def page_and_size(default: int = 50) -> tuple[int, int]:
    """(page, per_page) from the query string; 400 when malformed."""
    try:
        return page_args(request.args, default=default)
    except ValueError as exc:
        abort(400, description=str(exc))


def parse_filter(cls: type[T]) -> T:
    """cls.from_args(request.args); 400 naming the bad value."""
    try:
        return cls.from_args(request.args)  # type: ignore[attr-defined, no-any-return]
    except ValueError as exc:
        abort(400, description=str(exc))


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


def before_arg() -> int | None:
    """?before=SEQ (continue a free-text audit search below SEQ); 400 when not a positive integer."""
    raw = request.args.get("before")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 2**63 - 1:
        abort(400, description="before must be a positive integer (a record's seq)")
    return int(raw)
