"""Alerts: filtered list, detail with history, acknowledge and resolve through the alerts service."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for

from app.alerts import service as alerts_service
from app.alerts.types import AlertStatus, Severity
from app.inventory import get_inventory
from app.inventory.schema import Role
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.admin.forms import ActionForm, SilenceForm
from app.web.admin.views.common import actor
from app.web.queries import alerts as queries
from app.web.request_args import page_and_size, parse_filter


@bp.route("/alerts")
@requires(Role.USER)
def alerts() -> str:
    """Alerts, filtered by state, severity, service, host or text."""
    flt = parse_filter(queries.AlertFilter)
    page = queries.list_alerts(flt, *page_and_size())
    return render_template("admin/alerts.html", page=page, flt=flt, statuses=[s.value for s in AlertStatus],
                           severities=[s.value for s in Severity], services=sorted(get_inventory().services))


@bp.route("/alerts/<id:alert_id>")
@requires(Role.USER)
def alert_detail(alert_id: int) -> str:
    """One alert: labels, people, escalation steps and its audit history."""
    alert = alerts_service.get_alert(alert_id)
    if alert is None:
        abort(404)
    matchers = ",".join(f"{k}={v}" for k, v in (("alertname", alert.alertname), ("host", alert.host)) if v)
    return render_template("admin/alert.html", alert=alert, history=queries.history(alert), form=ActionForm(),
                           silence_form=SilenceForm(matchers=matchers))


def _transition(alert_id: int, action: str) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400, description="The form has expired; reload the page.")
    change = alerts_service.acknowledge if action == "ack" else alerts_service.resolve
    if alerts_service.get_alert(alert_id) is None:
        abort(404)
    result = change(alert_id=alert_id, actor=actor())
    verb = "acknowledged" if action == "ack" else "resolved"
    if result.changed:
        flash(f"Alert #{alert_id} {verb}.", "success")
    else:
        flash(f"Alert #{alert_id} was already {result.alert.status}; nothing changed.", "info")
    return redirect(url_for("admin.alert_detail", alert_id=alert_id))


@bp.route("/alerts/<id:alert_id>/ack", methods=["POST"])
@requires(Role.OPERATOR)
def alert_ack(alert_id: int) -> Any:
    """Acknowledge: escalation stops."""
    return _transition(alert_id, "ack")


@bp.route("/alerts/<id:alert_id>/resolve", methods=["POST"])
@requires(Role.OPERATOR)
def alert_resolve(alert_id: int) -> Any:
    """Resolve by hand."""
    return _transition(alert_id, "resolve")
