"""Query-string parsing shared by the admin pages and the API: 400 with the reason when malformed."""
from __future__ import annotations

from typing import TypeVar

from flask import abort, request

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


def before_arg() -> int | None:
    """?before=SEQ (continue a free-text audit search below SEQ); 400 when not a positive integer."""
    raw = request.args.get("before")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 2**63 - 1:
        abort(400, description="before must be a positive integer (a record's seq)")
    return int(raw)
