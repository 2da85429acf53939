"""Request parsing and paged responses shared by the API resources."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, jsonify, request

from app.web.queries.pages import Page, page_args

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


def paged(page: Page[Any], render: Callable[[Any], dict[str, Any]]) -> Any:
    """{"items": [...], "page": n, "per_page": n, "has_next": bool}."""
    return jsonify(items=[render(item) for item in page.items], page=page.page, per_page=page.per_page,
                   has_next=page.has_next)


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 when it is missing or not an object."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="send a JSON object with Content-Type: application/json")
    return body


def iso(value: Any) -> str | None:
    """A datetime as ISO 8601 (UTC), or None."""
    if value is None:
        return None
    from datetime import UTC

    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).isoformat())


def before_arg() -> int | None:
    """?before=SEQ (continue a free-text audit search below SEQ); 400 when not a positive integer."""
    raw = request.args.get("before")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 2**63 - 1:
        abort(400, description="before must be a positive integer (a record's seq)")
    return int(raw)
