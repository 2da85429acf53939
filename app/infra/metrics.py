"""prometheus-client metrics; correct under several gunicorn workers via PROMETHEUS_MULTIPROC_DIR."""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

WEBHOOK_REQUESTS = Counter(
    "openclaw_webhook_requests_total", "Webhook requests by endpoint and outcome", ["endpoint", "outcome"]
)
WEBHOOK_LATENCY = Histogram(
    "openclaw_webhook_seconds", "Time to answer a webhook", ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
EVENTS_PROCESSED = Counter("openclaw_events_processed_total", "Inbound events processed", ["outcome"])
FEISHU_API_CALLS = Counter("openclaw_feishu_api_calls_total", "Feishu API calls", ["outcome"])
# The newest audit record's seq, published outside the database so truncating the log shows.
# "max" across processes: every process sets the seq it appended, and seqs only grow.
AUDIT_HEAD_SEQ = Gauge("openclaw_audit_head_seq", "Sequence number of the newest audit record appended",
                       multiprocess_mode="max")


def render() -> tuple[bytes, str]:
    """The exposition text: all processes' values when multiprocess mode is on."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
