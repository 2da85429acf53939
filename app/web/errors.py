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
        if _wants_admin_page():
            if exc.code is not None and exc.code < 400:
                return exc
            return _admin_page(exc.code or 500, exc.description or exc.name)
        return json_error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        logger.exception("unhandled error", extra={"path": request.path})
        if request.path.startswith("/api/v1/"):
            from app.web.api.errors import api_error

            return api_error(500, "internal error")
        if _wants_admin_page():
            return _admin_page(500, "Something went wrong; it has been logged.")
        return json_error(500, "internal error")


def _wants_admin_page() -> bool:
    """A browser asking for an admin URL (unknown ones too) gets a page in the admin look, not JSON."""
    return request.path.startswith("/admin") and request.accept_mimetypes.accept_html


def _admin_page(code: int, message: str):  # type: ignore[no-untyped-def]
    from app.web.admin import error_page

    try:
        return error_page(code, message)
    except Exception:  # noqa: BLE001 - the page itself failed (database down?): still answer
        logger.exception("could not render the admin error page", extra={"path": request.path})
        return json_error(code, message)
