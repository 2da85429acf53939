"""/api/v1/silences: list, add (matchers and a duration), end early — through the alerts service."""
from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request

from app.alerts import service as alerts_service
from app.alerts.models import Silence
from app.durations import parse_duration
from app.infra.db import utcnow
from app.inventory.schema import Role
from app.web.api import bp
from app.web.api.auth import current, requires
from app.web.api.common import iso, json_body, paged
from app.web.queries import alerts as queries
from app.web.request_args import page_and_size

MAX_SILENCE = 30 * 86400
MAX_MATCHERS = 20


def silence_json(silence: Silence) -> dict[str, Any]:
    """A silence as the API shows it."""
    return {"id": silence.id, "matchers": silence.matchers, "created_by": silence.created_by,
            "created_at": iso(silence.created_at), "ends_at": iso(silence.ends_at), "comment": silence.comment,
            "removed_by": silence.removed_by, "removed_at": iso(silence.removed_at)}


def _matchers(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not 1 <= len(raw) <= MAX_MATCHERS:
        abort(400, description=f"matchers must be an object of 1 to {MAX_MATCHERS} name: value pairs")
    if not all(isinstance(k, str) and k.strip() and isinstance(v, str) and v.strip() and len(k) <= 100
               and len(v) <= 200 for k, v in raw.items()):
        abort(400, description="every matcher needs a name and a value (strings)")
    return {k.strip(): v.strip() for k, v in raw.items()}


@bp.get("/silences")
@requires(Role.USER)
def list_silences() -> Any:
    """Active silences, ending soonest first; ?state=past for ended ones, newest first."""
    state = request.args.get("state", "active")
    if state not in ("active", "past"):
        abort(400, description="state must be active or past")
    number, per_page = page_and_size()
    return paged(queries.list_silences(active=state == "active", now=utcnow(), page=number, per_page=per_page),
                 silence_json)


@bp.post("/silences")
@requires(Role.OPERATOR)
def create_silence() -> Any:
    """Add a silence: {"matchers": {"alertname": "DiskFull"}, "duration": "2h", "comment"?}."""
    body = json_body()
    matchers = _matchers(body.get("matchers"))
    duration, comment = body.get("duration"), body.get("comment")
    if not isinstance(duration, str):
        abort(400, description="duration must be a string such as 30m or 2h")
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        abort(400, description=str(exc))
    if seconds > MAX_SILENCE:
        abort(400, description="a silence may last at most 30 days")
    if comment is not None and (not isinstance(comment, str) or len(comment) > 500):
        abort(400, description="comment must be a string of at most 500 characters")
    silence = alerts_service.create_silence(matchers=matchers, seconds=seconds, actor=current().actor,
                                            comment=comment or None)
    return jsonify(silence_json(silence)), 201


@bp.delete("/silences/<id:silence_id>")
@requires(Role.OPERATOR)
def remove_silence(silence_id: int) -> Any:
    """End an active silence now (404 when it is unknown or already over)."""
    return jsonify(silence_json(alerts_service.remove_silence(silence_id=silence_id, actor=current().actor)))
