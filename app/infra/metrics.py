"""prometheus-client metrics; correct under several gunicorn workers via PROMETHEUS_MULTIPROC_DIR.

Every series is defined here; call sites increment them in one line. Labels are
bounded sets (route templates, endpoint templates, model names, kinds), never raw
paths or ids. Gauges read from shared state (queue depth, automation paused, audit
head) are refreshed by the process answering the scrape (app/monitoring/scrape.py).
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_SLOW = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)
_LONG = (0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800)

# -- HTTP ------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "openclaw_http_requests_total", "HTTP requests by route template, method and status", ["route", "method", "status"]
)
REQUEST_DURATION = Histogram(
    "openclaw_request_duration_seconds", "Time to answer an HTTP request, by route template", ["route", "method"],
    buckets=_SECONDS,
)
WEBHOOK_REQUESTS = Counter(
    "openclaw_webhook_requests_total", "Webhook requests by endpoint and outcome", ["endpoint", "outcome"]
)
WEBHOOK_LATENCY = Histogram("openclaw_webhook_seconds", "Time to answer a webhook", ["endpoint"], buckets=_FAST)

# -- every handled failure ------------------------------------------------------------------
ERRORS = Counter(
    "openclaw_errors_total", "Handled failures by component (webhook, job, feishu, model, ssh, ...) and kind",
    ["component", "kind"],
)

# -- inbound events and jobs ----------------------------------------------------------------
EVENTS_RECEIVED = Counter("openclaw_events_received_total", "Inbound events recorded, by source", ["source"])
EVENTS_PROCESSED = Counter("openclaw_events_processed_total", "Inbound events processed", ["outcome"])
EVENTS_DEAD = Counter("openclaw_events_dead_total", "Inbound events given up on after the last attempt")
EVENTS_REQUEUED = Counter("openclaw_events_requeued_total", "Dead events put back by an operator")
EVENT_LAG = Histogram(
    "openclaw_event_reply_lag_seconds", "Time from receiving an event to having delivered its replies", buckets=_SLOW
)
QUEUE_DEPTH = Gauge("openclaw_queue_depth", "Jobs waiting per queue", ["queue"], multiprocess_mode="mostrecent")
QUEUE_OLDEST = Gauge(
    "openclaw_queue_oldest_job_age_seconds", "Age of the oldest waiting job per queue", ["queue"],
    multiprocess_mode="mostrecent",
)
DEAD_EVENTS = Gauge("openclaw_events_dead_stored", "Dead inbound events now stored", multiprocess_mode="mostrecent")
JOB_DURATION = Histogram(
    # "name", not "job": Prometheus owns the job label (the scrape job).
    "openclaw_job_duration_seconds", "Background job run time by name, queue and outcome", ["name", "queue", "outcome"],
    buckets=_LONG,
)

RESPONSE_SECONDS = Gauge(
    "openclaw_response_seconds",
    "Rolling 7-day MTTA (alert to first ack), MTTR (alert to resolved) and incident time to close, seconds",
    ["measure", "severity", "quantile"], multiprocess_mode="mostrecent",
)

# -- Feishu API -----------------------------------------------------------------------------
FEISHU_API_CALLS = Counter(
    "openclaw_feishu_api_calls_total",
    "Feishu API HTTP attempts by endpoint template and outcome (ok, error, rate_limited, retried, unavailable)",
    ["endpoint", "outcome"],
)
FEISHU_API_LATENCY = Histogram(
    "openclaw_feishu_api_seconds", "Feishu API HTTP attempt latency by endpoint template", ["endpoint"],
    buckets=_SECONDS,
)

# -- model calls ----------------------------------------------------------------------------
MODEL_CALLS = Counter("openclaw_model_calls_total", "Model calls by model, upstream and status",
                      ["model", "upstream", "status"])
MODEL_DURATION = Histogram("openclaw_model_call_duration_seconds", "Model call duration",
                           ["model", "upstream"], buckets=_SLOW)
MODEL_TTFT = Histogram("openclaw_model_ttft_seconds", "Model time to first token", ["model", "upstream"],
                       buckets=_SLOW)
MODEL_TOKENS = Counter("openclaw_model_tokens_total", "Model tokens by direction (input, output)",
                       ["model", "upstream", "direction"])
MODEL_TOKEN_EFFICIENCY = Histogram(
    "openclaw_model_token_efficiency", "Output tokens per input token of a model call", ["model"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8),
)
MODEL_SLOW_CALLS = Counter("openclaw_model_slow_calls_total", "Model calls slower than LLM_SLOW_MS", ["model"])
GATEWAY_IN_USE = Gauge("openclaw_gateway_concurrency_in_use", "Model calls in flight through the gateway",
                       ["upstream"], multiprocess_mode="livesum")

# -- automation, alerts, audit --------------------------------------------------------------
EXECUTIONS = Counter("openclaw_executions_total", "Finished executions by kind and status", ["kind", "status"])
EXECUTION_DURATION = Histogram("openclaw_execution_duration_seconds", "Execution run time by kind", ["kind"],
                               buckets=_LONG)
ALERTS = Counter(
    "openclaw_alerts_total", "Alert pipeline: received, deduplicated, notified, escalated, escalation_failed",
    ["stage"],
)
AUDIT_HEAD_SEQ = Gauge("openclaw_audit_head_seq", "Sequence number of the newest audit record",
                       multiprocess_mode="max")
AUDIT_VERIFICATIONS = Counter("openclaw_audit_verifications_total", "Audit chain checks by result (ok, broken)",
                              ["result"])
AUTOMATION_PAUSED = Gauge("openclaw_automation_paused", "1 while the automation kill switch is on",
                          multiprocess_mode="mostrecent")

# -- helpers --------------------------------------------------------------------------------
_error_listeners: list[Callable[[str, str], None]] = []


def count_error(component: str, kind: str) -> None:
    """One handled failure: the counter, plus the in-app error-rate window (app/selfmon)."""
    ERRORS.labels(component=component, kind=kind).inc()
    for listener in _error_listeners:
        try:
            listener(component, kind)
        except Exception:  # noqa: BLE001 - counting must never break the caller
            pass


def on_error(listener: Callable[[str, str], None]) -> None:
    """Register a callback for count_error (once per process)."""
    if listener not in _error_listeners:
        _error_listeners.append(listener)


@contextmanager
def gateway_slot(upstream: str) -> Iterator[None]:
    """Hold one unit of openclaw_gateway_concurrency_in_use while a model call runs."""
    gauge = GATEWAY_IN_USE.labels(upstream=upstream)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


def observe_model_call(*, model: str, upstream: str, status: str, duration_ms: float, ttft_ms: float | None,
                       input_tokens: int, output_tokens: int, efficiency: float | None, slow: bool) -> None:
    """All series of one model call."""
    MODEL_CALLS.labels(model=model, upstream=upstream, status=status).inc()
    MODEL_DURATION.labels(model=model, upstream=upstream).observe(duration_ms / 1000)
    if ttft_ms is not None:
        MODEL_TTFT.labels(model=model, upstream=upstream).observe(ttft_ms / 1000)
    MODEL_TOKENS.labels(model=model, upstream=upstream, direction="input").inc(input_tokens)
    MODEL_TOKENS.labels(model=model, upstream=upstream, direction="output").inc(output_tokens)
    if efficiency is not None:
        MODEL_TOKEN_EFFICIENCY.labels(model=model).observe(efficiency)
    if slow:
        MODEL_SLOW_CALLS.labels(model=model).inc()
    if status != "ok":
        count_error("model", "call_failed")


_ID_SEGMENT = re.compile(r"(/(?:messages|chats|users|images|files))/[^/?]+")


def feishu_endpoint(method: str, path: str) -> str:
    """'POST /open-apis/im/v1/messages/{id}/reply' from a concrete path: ids never become labels."""
    template = _ID_SEGMENT.sub(r"\1/{id}", path)
    return f"{method} {template}"


def observe_job(job: str, queue: str, started: float, outcome: str) -> None:
    """Job run time; a failure is also an error of component 'job'."""
    JOB_DURATION.labels(name=job, queue=queue, outcome=outcome).observe(time.monotonic() - started)
    if outcome != "ok":
        count_error("job", job.rsplit(".", 1)[-1])


def registry() -> CollectorRegistry:
    """All processes' values when multiprocess mode is on, else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return merged
    from prometheus_client import REGISTRY

    return REGISTRY


def render(refresh: Callable[[], Any] | None = None) -> tuple[bytes, str]:
    """The exposition text; refresh() updates the scraped gauges first."""
    if refresh is not None:
        refresh()
    return generate_latest(registry()), CONTENT_TYPE_LATEST
