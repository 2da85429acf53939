"""Incidents: filtered list; detail with the timeline, linked alerts, actions taken and participants."""
from __future__ import annotations

from flask import abort, render_template

from app.incidents import service as incidents
from app.incidents.cards import duration
from app.incidents.models import IncidentSeverity, IncidentStatus
from app.infra.db import utcnow
from app.inventory.schema import Role
from app.users.service import display_name
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.queries import incidents as queries
from app.web.request_args import page_and_size, parse_filter


@bp.route("/incidents")
@requires(Role.USER)
def incidents_list() -> str:
    """Incidents, filtered by state, severity or text."""
    flt = parse_filter(queries.IncidentFilter)
    return render_template("admin/incidents.html", page=queries.list_incidents(flt, *page_and_size()), flt=flt,
                           statuses=[s.value for s in IncidentStatus], severities=[s.value for s in IncidentSeverity],
                           duration=duration, now=utcnow(), display_name=display_name)


@bp.route("/incidents/<id:incident_id>")
@requires(Role.USER)
def incident_detail(incident_id: int) -> str:
    """One incident from open to close."""
    incident = incidents.get_incident(incident_id)
    if incident is None:
        abort(404)
    return render_template(
        "admin/incident.html", incident=incident, timeline=incidents.timeline(incident.id),
        alerts=incidents.linked_alerts(incident), actions=incidents.actions(incident),
        participants=incidents.participants(incident), duration=duration(incident, utcnow()), display_name=display_name,
    )
