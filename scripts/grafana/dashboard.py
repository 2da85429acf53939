"""Write deploy/grafana/openclaw.json, the Grafana dashboard for OpenClaw's Prometheus series.

    .venv/bin/python scripts/grafana/dashboard.py    # rewrite the file after changing this script

tests/monitoring/test_grafana.py checks the file equals this output and that every series
it queries is one /metrics exposes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "openclaw.json"
DS = {"type": "prometheus", "uid": "${datasource}"}

ROWS: list[tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]] = [
    ("Traffic and errors", [
        ("Requests per second by route", "reqps", [
            ('sum by (route) (rate(openclaw_http_requests_total{job=~"$job"}[5m]))', "{{route}}")]),
        ("HTTP 5xx ratio", "percentunit", [
            ('sum(rate(openclaw_http_requests_total{job=~"$job",status=~"5.."}[5m]))'
             ' / sum(rate(openclaw_http_requests_total{job=~"$job"}[5m]))', "5xx")]),
        ("Handled errors per second by component", "ops", [
            ('sum by (component, kind) (rate(openclaw_errors_total{job=~"$job"}[5m]))', "{{component}} {{kind}}")]),
    ]),
    ("Latency", [
        ("p95 request duration by route", "s", [
            ('histogram_quantile(0.95, sum by (le, route) '
             '(rate(openclaw_request_duration_seconds_bucket{job=~"$job"}[5m])))', "{{route}}")]),
        ("Event receipt to reply (p50, p95)", "s", [
            ('histogram_quantile(0.5, sum by (le) (rate(openclaw_event_reply_lag_seconds_bucket{job=~"$job"}[5m])))',
             "p50"),
            ('histogram_quantile(0.95, sum by (le) (rate(openclaw_event_reply_lag_seconds_bucket{job=~"$job"}[5m])))',
             "p95")]),
        ("Inbound events", "ops", [
            ('sum(rate(openclaw_events_received_total{job=~"$job"}[5m]))', "received"),
            ('sum by (outcome) (rate(openclaw_events_processed_total{job=~"$job"}[5m]))', "{{outcome}}"),
            ('sum(rate(openclaw_events_dead_total{job=~"$job"}[5m]))', "dead")]),
    ]),
    ("Model usage", [
        ("Model calls per second by model and status", "ops", [
            ('sum by (model, status) (rate(openclaw_model_calls_total{job=~"$job"}[5m]))', "{{model}} {{status}}")]),
        ("Model call p95 duration and time to first token", "s", [
            ('histogram_quantile(0.95, sum by (le, model) '
             '(rate(openclaw_model_call_duration_seconds_bucket{job=~"$job"}[5m])))', "{{model}} duration"),
            ('histogram_quantile(0.95, sum by (le, model) (rate(openclaw_model_ttft_seconds_bucket{job=~"$job"}[5m])))',
             "{{model}} TTFT")]),
        ("Tokens per second", "short", [
            ('sum by (model, direction) (rate(openclaw_model_tokens_total{job=~"$job"}[5m]))',
             "{{model}} {{direction}}")]),
        ("Average token efficiency (output / input)", "short", [
            ('sum by (model) (rate(openclaw_model_token_efficiency_sum{job=~"$job"}[15m]))'
             ' / sum by (model) (rate(openclaw_model_token_efficiency_count{job=~"$job"}[15m]))', "{{model}}")]),
        ("Slow model calls (over LLM_SLOW_MS) per minute", "short", [
            ('sum by (model) (increase(openclaw_model_slow_calls_total{job=~"$job"}[1m]))', "{{model}}")]),
        ("Gateway concurrency in use", "short", [
            ('sum by (upstream) (openclaw_gateway_concurrency_in_use{job=~"$job"})', "{{upstream}}")]),
    ]),
    ("Queues and jobs", [
        ("Queue depth", "short", [('max by (queue) (openclaw_queue_depth{job=~"$job"})', "{{queue}}")]),
        ("Oldest waiting job", "s", [
            ('max by (queue) (openclaw_queue_oldest_job_age_seconds{job=~"$job"})', "{{queue}}")]),
        ("Job p95 duration", "s", [
            ('histogram_quantile(0.95, sum by (le, name) '
             '(rate(openclaw_job_duration_seconds_bucket{job=~"$job"}[5m])))',
             "{{name}}")]),
        ("Executions by kind and status", "short", [
            ('sum by (kind, status) (increase(openclaw_executions_total{job=~"$job"}[1h]))', "{{kind}} {{status}}")]),
    ]),
    ("Feishu API", [
        ("Feishu API calls by outcome", "ops", [
            ('sum by (outcome) (rate(openclaw_feishu_api_calls_total{job=~"$job"}[5m]))', "{{outcome}}")]),
        ("Feishu API p95 latency by endpoint", "s", [
            ('histogram_quantile(0.95, sum by (le, endpoint) '
             '(rate(openclaw_feishu_api_seconds_bucket{job=~"$job"}[5m])))', "{{endpoint}}")]),
        ("Alert pipeline", "short", [
            ('sum by (stage) (increase(openclaw_alerts_total{job=~"$job"}[1h]))', "{{stage}}")]),
        ("Automation paused / dead events / audit head", "short", [
            ('max(openclaw_automation_paused{job=~"$job"})', "paused"),
            ('max(openclaw_events_dead_stored{job=~"$job"})', "dead events"),
            ('max(openclaw_audit_head_seq{job=~"$job"})', "audit head")]),
    ]),
]


def build() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    panel_id, y = 1, 0
    for title, graphs in ROWS:
        panels.append({"id": panel_id, "type": "row", "title": title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        panel_id, y = panel_id + 1, y + 1
        for index, (name, unit, targets) in enumerate(graphs):
            panels.append({
                "id": panel_id, "type": "timeseries", "title": name, "datasource": DS,
                "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": y + (index // 2) * 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [{"refId": chr(ord("A") + n), "datasource": DS, "expr": expr, "legendFormat": legend}
                            for n, (expr, legend) in enumerate(targets)],
            })
            panel_id += 1
        y += ((len(graphs) + 1) // 2) * 8
    return {
        "title": "OpenClaw", "uid": "openclaw-overview", "tags": ["openclaw"], "timezone": "utc",
        "schemaVersion": 38, "version": 1, "editable": True, "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
            {"name": "job", "type": "query", "datasource": DS, "label": "Job", "includeAll": True, "multi": True,
             "query": {"query": "label_values(openclaw_http_requests_total, job)", "refId": "jobs"},
             "definition": "label_values(openclaw_http_requests_total, job)", "allValue": ".*", "refresh": 2},
        ]},
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
