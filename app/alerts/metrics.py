"""Prometheus series of the alert pipeline (served by /metrics with the others)."""
from __future__ import annotations

from prometheus_client import Counter

INGESTED = Counter("openclaw_alerts_ingested_total", "Alert reports received, by endpoint and outcome",
                   ["endpoint", "outcome"])
NOTIFICATIONS = Counter("openclaw_alert_notifications_total", "Alert notifications by kind "
                        "(card, summary, grouped, silenced, logged, buzz_app, buzz_sms, buzz_phone)", ["kind"])
