"""The System page: how Feishu events arrive, and the long-connection connectors' health."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import current_app, render_template

from app.inventory.schema import Role
from app.web.admin import bp
from app.web.admin.auth import requires


def _at(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


@bp.route("/system")
@requires(Role.AUDITOR)
def system() -> str:
    """Transport, connectors (state, since, last message, reconnects)."""
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
    return render_template(
        "admin/system.html", transport=transport, connectors=connectors, error=error,
        credentials=bool(config.get("FEISHU_APP_ID")), embedded=bool(config.get("EMBEDDED")),
    )
