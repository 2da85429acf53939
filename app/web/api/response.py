"""/api/v1/response-times: MTTA, MTTR and incident time to close, per week, service, severity and team."""
from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request

from app.infra.db import utcnow
from app.inventory.schema import Role
from app.reports import response
from app.web.api import bp
from app.web.api.auth import requires

MAX_WEEKS = 52


def weeks_arg(default: int = 8) -> int:
    """?weeks= as a whole number from 1 to MAX_WEEKS; 400 otherwise."""
    raw = request.args.get("weeks", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WEEKS:
        abort(400, description=f"weeks must be a whole number from 1 to {MAX_WEEKS}")
    return int(raw)


@bp.get("/response-times")
@requires(Role.USER)
def response_times() -> Any:
    """Figures for the current local week and the ?weeks= - 1 before it (default 8); seconds, nearest-rank."""
    return jsonify(response.last_weeks(weeks_arg(), now=utcnow()).as_dict())
