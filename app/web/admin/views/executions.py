"""Executions: who ran what with which arguments, host-by-host output, cancel."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for

from app.automation import service as automation
from app.automation.errors import InvalidTransition
from app.automation.models import ExecutionKind, ExecutionStatus
from app.inventory.schema import Role
from app.users.service import display_name
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.admin.forms import ActionForm
from app.web.admin.views.common import actor
from app.web.queries import executions as queries
from app.web.request_args import page_and_size, parse_filter


@bp.route("/executions")
@requires(Role.AUDITOR)
def executions() -> str:
    """Executions, newest first, filtered by status, kind or requester."""
    flt = parse_filter(queries.ExecutionFilter)
    page = queries.list_executions(flt, *page_and_size())
    return render_template("admin/executions.html", page=page, flt=flt, display_name=display_name,
                           statuses=["active", *[s.value for s in ExecutionStatus]],
                           kinds=[k.value for k in ExecutionKind])


@bp.route("/executions/<id:execution_id>")
@requires(Role.AUDITOR)
def execution_detail(execution_id: int) -> str:
    """One execution with every host's command, outcome and output."""
    execution = automation.get_execution(execution_id)
    if execution is None:
        abort(404)
    return render_template("admin/execution.html", execution=execution, form=ActionForm(),
                           display_name=display_name)


@bp.route("/executions/<id:execution_id>/cancel", methods=["POST"])
@requires(Role.OPERATOR)
def execution_cancel(execution_id: int) -> Any:
    """Cancel a waiting, queued or running execution."""
    if automation.get_execution(execution_id) is None:
        abort(404)
    try:
        execution = automation.cancel(execution_id=execution_id, actor=actor())
        flash(f"#{execution.id} {execution.status}.", "success")
    except InvalidTransition as exc:
        flash(exc.user_message, "error")
    return redirect(url_for("admin.execution_detail", execution_id=execution_id))
