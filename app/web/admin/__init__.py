"""/admin: server-rendered pages for people; sign-in required, roles checked on the server."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from app import localtime
from app.inventory.schema import Role

logger = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")

# (endpoint, label, lowest role that sees it): the navigation bar; the views check the same roles.
NAV: tuple[tuple[str, str, Role], ...] = (
    ("admin.overview", "Overview", Role.USER),
    ("admin.alerts", "Alerts", Role.USER),
    ("admin.silences", "Silences", Role.USER),
    ("admin.incidents_list", "Incidents", Role.USER),
    ("admin.executions", "Executions", Role.AUDITOR),
    ("admin.audit", "Audit", Role.AUDITOR),
    ("admin.kb_list", "Knowledge", Role.USER),
    ("admin.response_times", "Response times", Role.USER),
    ("admin.reports", "Weekly report", Role.USER),
    ("admin.usage", "Model usage", Role.AUDITOR),
    ("admin.system", "System", Role.AUDITOR),
    ("admin.inventory", "Inventory", Role.USER),
    ("admin.console", "Console", Role.ADMIN),
    ("admin.tokens", "API tokens", Role.USER),
    ("admin.system", "System", Role.AUDITOR),
)


def init_app(app: Flask) -> None:
    """Register the blueprint with its session handling, template helpers and error pages."""
    from app.web.admin import auth, feishu, views  # noqa: F401  (views register their routes on bp)

    auth.init_app(app)
    app.register_blueprint(bp)


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return localtime.fmt(value, seconds=True)


@bp.app_template_global()
def page_url(page: int) -> str:
    """The current URL with ?page= replaced."""
    args: dict[str, Any] = request.args.to_dict()
    args["page"] = page
    return url_for(request.endpoint or "admin.overview", **(request.view_args or {}), **args)


@bp.app_template_global()
def execution_label(execution: Any) -> str:
    """What an execution did, said once: `logs nginx`, `deploy shop-api prod 1.2`, `status host web-01`."""
    kind, target = str(execution.kind), str(execution.target)
    label = target if target == kind or target.startswith(kind + " ") else f"{kind} {target}"
    version = (execution.args or {}).get("version") if kind == "deploy" else None
    return f"{label} {version}" if version else label


@bp.app_template_filter("when")
def when_filter(value: datetime | None) -> str:
    """Local time (TIMEZONE), to the second, with the zone's abbreviation."""
    return _when(value)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    role = Role(current_user.role) if current_user.is_authenticated else None
    nav = [(e, label) for e, label, need in NAV if role is not None and role.at_least(need)]
    return {"nav": nav, "role": role, "Role": Role,
            "can": lambda need: role is not None and role.at_least(need)}


@bp.after_request
def _headers(response: Any) -> Any:
    """Pages are private and framed by nobody; scripts and styles come from /static only."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    return response


_TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Not allowed here",
           413: "Too large", 429: "Too many requests", 500: "Something went wrong"}


def error_page(code: int, message: str) -> tuple[str, int]:
    """An error as a page in the admin look: the code, a title and the reason."""
    return render_template("admin/error.html", code=code, title=_TITLES.get(code, "Error"), message=message), code


@bp.errorhandler(Exception)
def _error_page(exc: Exception) -> Any:
    """HTTP errors as a page with the reason; anything unexpected logged and shown as a plain 500."""
    if isinstance(exc, HTTPException):
        if exc.code is not None and exc.code < 400:
            return exc
        return error_page(exc.code or 500, exc.description or exc.name)
    logger.exception("unhandled error on an admin page", extra={"path": request.path})
    return error_page(500, "Something went wrong; it has been logged.")
