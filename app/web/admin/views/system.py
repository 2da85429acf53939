"""System: OpenClaw's own health: workers, queues, lag, dead events (requeue), reachability, errors."""
from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for

from app.errors import AuditWriteFailed, UsageError
from app.inventory.schema import Role
from app.monitoring import system as service
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.admin.forms import ActionForm
from app.web.admin.views.common import actor


@bp.route("/system")
@requires(Role.AUDITOR)
def system() -> str:
    """Everything an operator looks at first when OpenClaw itself misbehaves."""
    return render_template("admin/system.html", **service.snapshot(), **_feishu_transport())


def _at(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


def _feishu_transport() -> dict[str, Any]:
    """How Feishu events arrive, and the long-connection connectors' state (name, since, last message...)."""
    config = current_app.config
    transport = config.get("FEISHU_TRANSPORT")
    connectors: list[dict[str, object]] = []
    error = None
    if transport == "longconn":
        from app.feishu.longconn import status

        try:
            statuses = status.all_statuses()
        except Exception as exc:
            statuses, error = [], f"cannot read connector status: {type(exc).__name__}"
        connectors = [
            {"name": s.name, "state": s.state, "connected_since": _at(s.connected_since),
             "last_message": _at(s.last_message_at), "last_pong": _at(s.last_pong_at),
             "reconnects": s.reconnects, "events": s.events, "last_error": s.last_error,
             "seen": round(time.time() - s.updated_at)}
            for s in statuses
        ]
    return {"transport": transport, "connectors": connectors, "connector_error": error,
            "credentials": bool(config.get("FEISHU_APP_ID")), "embedded": bool(config.get("EMBEDDED"))}


@bp.route("/system/events/<id:event_pk>/requeue", methods=["POST"])
@requires(Role.OPERATOR)
def requeue_event(event_pk: int) -> Any:
    """Give a dead event another round of attempts (audited)."""
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    try:
        service.requeue_dead_event(event_pk, actor=actor())
        flash(f"Event #{event_pk} queued again.", "success")
    except (UsageError, AuditWriteFailed) as exc:
        flash(exc.user_message, "error")
    return redirect(url_for("admin.system"))
