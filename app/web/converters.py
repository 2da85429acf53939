"""URL converters shared by /admin and /api/v1."""
from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

BIGINT_MAX = 2**63 - 1


class IdConverter(IntegerConverter):
    """A row id: 1 to the largest BIGINT, so an absurd id is a 404, never a database error."""

    def __init__(self, map: object, *args: object, **kwargs: object) -> None:
        super().__init__(map, min=1, max=BIGINT_MAX)  # type: ignore[arg-type]


def register(app: Flask) -> None:
    """Make <id:name> available to every blueprint."""
    app.url_map.converters["id"] = IdConverter
