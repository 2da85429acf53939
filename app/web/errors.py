"""Map errors to HTTP once: JSON with a reason for machines, plain pages for people."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


def json_error(status: int, reason: str):  # type: ignore[no-untyped-def]
    """A JSON error body: {"error": reason}."""
    response = jsonify(error=reason)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/v1/") or request.path == "/api/v1":
            from app.web.api.errors import api_error

            return api_error(exc.code or 500, exc.description or exc.name)
        if request.path.startswith("/admin") and request.accept_mimetypes.accept_html:
            return exc
        return json_error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        logger.exception("unhandled error", extra={"path": request.path})
        if request.path.startswith("/api/v1/"):
            from app.web.api.errors import api_error

            return api_error(500, "internal error")
        return json_error(500, "internal error")
