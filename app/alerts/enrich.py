"""What the inventory knows about an alert: host tags, service, owners, on-call, runbook."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.alerts.models import Alert
from app.alerts.oncall import OnCall, on_call, schedule_for
from app.alerts.routing import matches
from app.alerts.types import match_labels
from app.inventory.schema import Inventory


@dataclass(frozen=True)
class Context:
    """Inventory facts about one alert, for its card, routing and escalation."""

    host_tags: tuple[str, ...] = ()
    service: str | None = None
    owners: tuple[str, ...] = ()
    schedule: str | None = None
    oncall: OnCall | None = None
    runbook: str | None = None
    runbook_url: str | None = None


def service_of(inventory: Inventory, alert: Alert) -> str | None:
    """The alert's service when the inventory knows it, else the only inventory service on its host."""
    if alert.service and alert.service in inventory.services:
        return alert.service
    if alert.host:
        on_host = [name for name, svc in inventory.services.items() if alert.host in svc.hosts]
        if len(on_host) == 1:
            return on_host[0]
    return alert.service


def enrich(inventory: Inventory, alert: Alert, now: datetime) -> Context:
    """The Context of alert at now (on-call depends on the time)."""
    host = inventory.hosts.get(alert.host or "")
    service = service_of(inventory, alert)
    svc = inventory.services.get(service or "")
    labels = match_labels(alert.labels or {}, alertname=alert.alertname, severity=alert.severity,
                          host=alert.host, service=service, source=alert.source)
    schedule = alert.schedule or schedule_for(inventory, service=service, labels=labels)
    rotation = inventory.oncall.get(schedule or "")
    rule = next((r for r in inventory.alerting.remediation if matches(r.match, labels)), None)
    annotations = alert.annotations or {}
    return Context(
        host_tags=tuple(host.tags) if host else (),
        service=service,
        owners=tuple(svc.owners) if svc else (),
        schedule=schedule if rotation else None,
        oncall=on_call(schedule, rotation, now) if schedule and rotation else None,
        runbook=rule.runbook if rule else None,
        runbook_url=annotations.get("runbook_url") or annotations.get("runbook") or None,
    )
