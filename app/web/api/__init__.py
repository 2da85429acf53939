"""/api/v1: JSON for scripts. Bearer tokens from `tokens create`, the same roles as the pages."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    """Register the API blueprint and its resources."""
    from app.web.api import (  # noqa: F401
        alerts, audit, auth, errors, executions, incidents, kb, me, openapi, response, silences, usage,
    )

    app.register_blueprint(bp)
