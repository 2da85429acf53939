"""Request parsing and paged responses shared by the API resources."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, jsonify, request

from app.web.queries.pages import Page


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
