"""The overview: open alerts by severity, executions in flight and recent, model usage today, pause state."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, render_template

from app import posture
from app.automation import policy
from app.inventory.schema import Role
from app.users.service import display_name
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.admin.views.common import me
from app.web.queries import alerts, executions, usage


@bp.route("/")
@requires(Role.USER)
def overview() -> str:
    """What needs attention now."""
    role = Role(me().role)
    start_of_day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    context = {
        "insecure": posture.warnings(current_app.config) if role.at_least(Role.AUDITOR) else [],
        "by_severity": alerts.open_by_severity(),
        "paused": policy.pause_state(),
        "active": executions.active_executions() if role.at_least(Role.AUDITOR) else None,
        "recent": executions.recent_executions() if role.at_least(Role.AUDITOR) else None,
        "today": usage.summary(start_of_day, current_app.config["LLM_SLOW_MS"]).totals if role.at_least(Role.AUDITOR) else None,
    }
    return render_template("admin/overview.html", display_name=display_name, **context)
