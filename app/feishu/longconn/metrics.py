"""Prometheus series for the connectors, computed at scrape time from their published status.

Connectors usually run in their own process or pod, so their state is read from
the status board (Redis) rather than from this process's counters.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from app.feishu.longconn import status


class ConnectorCollector:
    def collect(self) -> Iterator[Metric]:
        try:
            statuses = status.all_statuses()
        except Exception:  # Redis unreachable: no connector series rather than a failed scrape
            return
        connected = GaugeMetricFamily("openclaw_feishu_longconn_connected",
                                      "1 when the connector's long connection is open", labels=["connector"])
        reconnects = CounterMetricFamily("openclaw_feishu_longconn_reconnects",
                                         "Reconnect attempts since the connector started", labels=["connector"])
        events = CounterMetricFamily("openclaw_feishu_longconn_events",
                                     "Data frames acknowledged with code 200", labels=["connector"])
        silence = GaugeMetricFamily("openclaw_feishu_longconn_last_message_age_seconds",
                                    "Seconds since the connector last received a data frame", labels=["connector"])
        now = time.time()
        for item in statuses:
            connected.add_metric([item.name], 1.0 if item.connected else 0.0)
            reconnects.add_metric([item.name], float(item.reconnects))
            events.add_metric([item.name], float(item.events))
            if item.last_message_at is not None:
                silence.add_metric([item.name], max(0.0, now - item.last_message_at))
        yield connected
        yield reconnects
        yield events
        yield silence


def render() -> bytes:
    """Exposition text for the connector series (appended to /metrics)."""
    registry = CollectorRegistry()
    registry.register(ConnectorCollector())
    return generate_latest(registry)
