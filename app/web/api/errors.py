"""Every API error has one shape: {"error": {"code": "...", "message": "..."}}."""
from __future__ import annotations

import logging
from typing import Any

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from app.alerts.errors import AlertNotFound, SilenceNotFound
from app.automation.errors import DeployLocked, ExecutionNotFound, InvalidTransition, PolicyDenied
from app.errors import AuditWriteFailed, BotError, PermissionDenied, UsageError
from app.kb.service import ArticleNotFound
from app.web.api import bp
from app.web.inputs import carries_nul

logger = logging.getLogger(__name__)

CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "rate_limited",
         500: "internal", 503: "unavailable"}

# Domain errors and the HTTP status each means.
STATUS_OF: tuple[tuple[type[BotError], int], ...] = (
    (AlertNotFound, 404), (SilenceNotFound, 404), (ExecutionNotFound, 404), (ArticleNotFound, 404),
    (InvalidTransition, 409), (DeployLocked, 409), (PolicyDenied, 403), (PermissionDenied, 403),
    (UsageError, 400), (AuditWriteFailed, 503),
)


def api_error(status: int, message: str, code: str | None = None) -> Any:
    """A JSON error response."""
    response = jsonify(error={"code": code or CODES.get(status, "error"), "message": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="openclaw"'
    return response


@bp.before_request
def _refuse_nul() -> Any:
    """NUL in a parameter or body is refused up front (PostgreSQL text cannot hold it)."""
    if carries_nul(request):
        return api_error(400, "NUL characters are not accepted")
    return None


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Any:
    return api_error(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(BotError)
def _domain(exc: BotError) -> Any:
    for kind, status in STATUS_OF:
        if isinstance(exc, kind):
            return api_error(status, exc.user_message)
    logger.warning("unmapped domain error", extra={"error": type(exc).__name__})
    return api_error(400, exc.user_message)
