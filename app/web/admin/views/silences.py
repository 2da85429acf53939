"""Silences: the active and past ones, add one, end one early."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from app.alerts import service as alerts_service
from app.alerts.errors import SilenceNotFound
from app.alerts.routing import format_matchers, parse_matchers
from app.durations import parse_duration
from app.infra.db import utcnow
from app.inventory.schema import Role
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.admin.forms import ActionForm, SilenceForm
from app.web.admin.views.common import actor
from app.web.queries import alerts as queries
from app.web.request_args import page_and_size

MAX_SILENCE = 30 * 86400


@bp.route("/silences")
@requires(Role.USER)
def silences() -> str:
    """Active silences (or past ones with ?past=1) and the form to add one."""
    past = request.args.get("past") == "1"
    number, per_page = page_and_size()
    page = queries.list_silences(active=not past, now=utcnow(), page=number, per_page=per_page)
    return render_template("admin/silences.html", page=page, past=past, form=SilenceForm(),
                           action_form=ActionForm(), format_matchers=format_matchers)


@bp.route("/silences", methods=["POST"])
@requires(Role.OPERATOR)
def silence_create() -> Any:
    """Add a silence from the form (also posted from an alert's page)."""
    form = SilenceForm()
    if not form.validate_on_submit():
        abort(400, description="Fill in matchers and a duration.")
    try:
        matchers = parse_matchers(form.matchers.data or "")
        seconds = parse_duration(form.duration.data or "")
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.silences"))
    if seconds > MAX_SILENCE:
        flash("A silence may last at most 30 days.", "error")
        return redirect(url_for("admin.silences"))
    silence = alerts_service.create_silence(matchers=matchers, seconds=seconds, actor=actor(),
                                            comment=form.comment.data or None)
    flash(f"Silence #{silence.id} added: {alerts_service.describe_silence(silence)}", "success")
    return redirect(url_for("admin.silences"))


@bp.route("/silences/<id:silence_id>/remove", methods=["POST"])
@requires(Role.OPERATOR)
def silence_remove(silence_id: int) -> Any:
    """End a silence now."""
    try:
        alerts_service.remove_silence(silence_id=silence_id, actor=actor())
        flash(f"Silence #{silence_id} ended.", "success")
    except SilenceNotFound as exc:
        flash(exc.user_message, "error")
    return redirect(url_for("admin.silences"))
