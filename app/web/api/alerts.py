"""/api/v1/alerts: list, get, acknowledge, resolve (through the alerts service)."""
from __future__ import annotations

from typing import Any

from flask import jsonify

from app.alerts import service as alerts_service
from app.alerts.models import Alert
from app.inventory.schema import Role
from app.web.api import bp
from app.web.api.auth import current, requires
from app.web.api.common import iso, paged
from app.web.queries import alerts as queries
from app.web.request_args import page_and_size, parse_filter


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert as the API shows it."""
    return {
        "id": alert.id, "title": alert.title, "alertname": alert.alertname, "severity": str(alert.severity),
        "status": str(alert.status), "source": alert.source, "host": alert.host, "service": alert.service,
        "summary": alert.summary, "labels": alert.labels or {}, "value": alert.value, "count": alert.count,
        "fingerprint": alert.fingerprint, "starts_at": iso(alert.starts_at), "last_seen": iso(alert.last_seen),
        "ends_at": iso(alert.ends_at), "acked_by": alert.acked_by, "acked_at": iso(alert.acked_at),
        "resolved_by": alert.resolved_by, "resolved_at": iso(alert.resolved_at),
    }


@bp.get("/alerts")
@requires(Role.USER)
def list_alerts() -> Any:
    """Alerts, newest first; ?status=open|all|firing|acknowledged|resolved&severity=&service=&host=&q=."""
    flt = parse_filter(queries.AlertFilter)
    return paged(queries.list_alerts(flt, *page_and_size()), alert_json)


@bp.get("/alerts/<id:alert_id>")
@requires(Role.USER)
def get_alert(alert_id: int) -> Any:
    """One alert."""
    return jsonify(alert_json(alerts_service.get_alert_or_raise(alert_id)))


def _transition(alert_id: int, ack: bool) -> Any:
    alerts_service.get_alert_or_raise(alert_id)
    change = alerts_service.acknowledge if ack else alerts_service.resolve
    result = change(alert_id=alert_id, actor=current().actor)
    return jsonify(alert=alert_json(result.alert), changed=result.changed)


@bp.post("/alerts/<id:alert_id>/ack")
@requires(Role.OPERATOR)
def ack_alert(alert_id: int) -> Any:
    """Acknowledge a firing alert (changed=false when it was not firing)."""
    return _transition(alert_id, ack=True)


@bp.post("/alerts/<id:alert_id>/resolve")
@requires(Role.OPERATOR)
def resolve_alert(alert_id: int) -> Any:
    """Resolve an open alert (changed=false when it was already resolved)."""
    return _transition(alert_id, ack=False)
