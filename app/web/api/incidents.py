"""/api/v1/incidents: list and detail (timeline, linked alerts, actions, participants)."""
from __future__ import annotations

from typing import Any

from flask import abort, jsonify

from app.incidents import service as incidents
from app.incidents.models import Incident
from app.inventory.schema import Role
from app.web.api import bp
from app.web.api.alerts import alert_json
from app.web.api.auth import requires
from app.web.api.common import iso, paged
from app.web.queries import incidents as queries
from app.web.request_args import page_and_size, parse_filter


def incident_json(incident: Incident) -> dict[str, Any]:
    """An incident as the API lists it."""
    return {"id": incident.id, "ref": incident.ref, "title": incident.title, "severity": str(incident.severity),
            "status": str(incident.status), "commander": incident.commander, "opened_by": incident.opened_by,
            "war_room_chat_id": incident.war_room_chat_id, "alert_ids": list(incident.alert_ids or []),
            "summary": incident.summary, "created_at": iso(incident.created_at),
            "resolved_at": iso(incident.resolved_at), "resolved_by": incident.resolved_by}


@bp.get("/incidents")
@requires(Role.USER)
def list_incidents() -> Any:
    """Incidents, newest first; ?status=open|resolved|all&severity=sev1..sev4&q=."""
    flt = parse_filter(queries.IncidentFilter)
    return paged(queries.list_incidents(flt, *page_and_size()), incident_json)


@bp.get("/incidents/<id:incident_id>")
@requires(Role.USER)
def get_incident(incident_id: int) -> Any:
    """One incident with its timeline, linked alerts, actions taken and participants."""
    incident = incidents.get_incident(incident_id)
    if incident is None:
        abort(404, description=f"no incident {incident_id}")
    return jsonify({
        **incident_json(incident),
        "timeline": [{"at": iso(n.created_at), "author": n.author, "kind": str(n.kind), "text": n.text}
                     for n in incidents.timeline(incident.id)],
        "alerts": [alert_json(a) for a in incidents.linked_alerts(incident)],
        "actions": [{"id": e.id, "kind": str(e.kind), "target": e.target, "status": str(e.status),
                     "requested_by": e.requested_by, "created_at": iso(e.created_at), "summary": e.summary}
                    for e in incidents.actions(incident)],
        "participants": incidents.participants(incident),
    })
