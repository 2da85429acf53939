"""System: OpenClaw's own health: workers, queues, lag, dead events (requeue), reachability, errors."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for

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
    return render_template("admin/system.html", **service.snapshot())


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
