"""Two gunicorn workers and a job worker under load: /metrics totals add up across processes."""
from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import REDIS_URL, base_environ
from tests.monitoring import gunicorn
from tests.monitoring.scrape import label_values, samples, total
from tests.pushes import encrypted_push, im_message

HEALTH, ALERT_LOOKUPS, STRAYS, MESSAGES, QUESTIONS = 120, 40, 20, 8, 3
ALERT_TOKEN = "alert-token-0123456789"


def _get(url: str) -> int:
    return requests.get(url, timeout=10).status_code


def _push(url: str, text: str) -> int:
    raw, headers = encrypted_push(im_message(text, event_id=uuid.uuid4().hex, message_id=f"om_{uuid.uuid4().hex}"))
    return requests.post(f"{url}/webhook/feishu", data=raw, headers={**headers, "Content-Type": "application/json"},
                         timeout=10).status_code


def _alert(url: str) -> int:
    body = {"source": "zabbix", "host": "web-01", "service": "nginx", "metric": "disk_used", "severity": "critical",
            "message": "disk_used high on web-01"}
    return requests.post(f"{url}/webhook/alerts", json=body, headers={"Authorization": f"Bearer {ALERT_TOKEN}"},
                         timeout=10).status_code


def test_two_workers_and_a_job_worker_report_consistent_totals(
    pg_url: str, redis_client: Any, feishu_server: Any, llm_server: Any, tmp_path: Path,
) -> None:
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    feishu_server.add_chat("oc_ops", members=["ou_bob", "ou_alice"])
    environ = base_environ(pg_url, PROMETHEUS_MULTIPROC_DIR=str(multiproc), REDIS_URL=REDIS_URL,
                           FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
                           LLM_BASE_URL=llm_server.url, ALERT_WEBHOOK_TOKEN=ALERT_TOKEN)
    web, url = gunicorn.start_web(environ, tmp_path, workers=2)
    try:
        before = samples(requests.get(f"{url}/metrics", timeout=10).text)
        urls = ([f"{url}/healthz"] * HEALTH + [f"{url}/api/v1/alerts/{n}" for n in range(1, ALERT_LOOKUPS + 1)]
                + [f"{url}/no/such/page/{n}" for n in range(STRAYS)])
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(_get, urls))
            pushed = list(pool.map(lambda n: _push(url, "/help"), range(MESSAGES)))
            asked = list(pool.map(lambda n: _push(url, f"why is nginx slow {n}"), range(QUESTIONS)))
        assert statuses.count(200) == HEALTH and statuses.count(401) == ALERT_LOOKUPS and statuses.count(404) == STRAYS
        assert pushed == [200] * MESSAGES and asked == [200] * QUESTIONS
        assert [_alert(url), _alert(url)] == [200, 200]  # one new alert, one repeat
        traced = requests.get(f"{url}/healthz", headers={"X-Request-ID": "trace-me-1"}, timeout=10)
        assert traced.headers["X-Request-ID"] == "trace-me-1"

        gunicorn.run_worker_burst(environ, tmp_path)  # processes the events, writing into the same directory

        pids = {path.stem.rsplit("_", 1)[-1] for path in multiproc.glob("counter_*.db")}
        assert len(pids) >= 3, f"expected two web workers and the job worker to have counted, got {pids}"
        texts = [requests.get(f"{url}/metrics", timeout=10).text for _ in range(4)]
    finally:
        gunicorn.stop(web)

    access = [json.loads(line) for line in (tmp_path / "gunicorn.log").read_text().splitlines()
              if '"gunicorn.access"' in line]
    [traced_line] = [line for line in access if line["trace.id"] == "trace-me-1"]
    assert traced_line["service.name"] == "openclaw" and traced_line["log.level"] == "info"
    assert traced_line["event.duration"] > 0 and traced_line["@timestamp"] == traced_line["timestamp"]
    booted = [json.loads(line) for line in (tmp_path / "gunicorn.log").read_text().splitlines()
              if "Booting worker" in line]
    assert len(booted) == 2 and all(b["service.name"] == "openclaw" and b["log.level"] == "info" for b in booted)
    found = samples(texts[-1])
    # The scrapes are themselves requests: each one is counted by the worker that answered it.
    healthz = total(found, "openclaw_http_requests_total", route="/healthz", method="GET", status="200")
    assert healthz - total(before, "openclaw_http_requests_total", route="/healthz") == HEALTH + 1
    assert total(found, "openclaw_http_requests_total", route="/api/v1/alerts/<id:alert_id>", status="401") \
        == ALERT_LOOKUPS
    assert total(found, "openclaw_http_requests_total", route="<unmatched>", status="404") == STRAYS
    assert total(found, "openclaw_http_requests_total", route="/metrics") == 4  # a scrape counts after it answers
    assert total(found, "openclaw_request_duration_seconds_count", route="/healthz") == healthz
    routes = label_values(found, "openclaw_http_requests_total", "route")
    assert not any("/no/such/page" in route or route.endswith(("/1", "/2")) for route in routes), routes
    events = MESSAGES + QUESTIONS
    assert total(found, "openclaw_events_received_total", source="feishu") == events
    assert total(found, "openclaw_events_processed_total", outcome="done") == events
    assert total(found, "openclaw_event_reply_lag_seconds_count") == events
    assert total(found, "openclaw_job_duration_seconds_count", name="app.inbox.tasks.process_event", outcome="ok") \
        == events
    # The assistant's model calls and the alert pipeline, counted in the job worker and the web workers.
    assert total(found, "openclaw_model_calls_total", status="ok") == QUESTIONS
    assert total(found, "openclaw_model_tokens_total", direction="input") == 42 * QUESTIONS
    assert total(found, "openclaw_model_call_duration_seconds_count") == QUESTIONS
    assert total(found, "openclaw_alerts_total", stage="received") == 2
    assert total(found, "openclaw_alerts_total", stage="deduplicated") == 1
    assert total(found, "openclaw_alerts_total", stage="notified") == 1
    assert total(found, "openclaw_audit_head_seq") >= 1
    replies = total(found, "openclaw_feishu_api_calls_total", endpoint="POST /open-apis/im/v1/messages/{id}/reply",
                    outcome="ok")
    assert replies >= MESSAGES
    endpoints = label_values(found, "openclaw_feishu_api_calls_total", "endpoint")
    assert "POST /open-apis/im/v1/messages" in endpoints  # the alert card
    assert all("{id}" in e or not any(c.isdigit() for c in e.split("/")[-1]) for e in endpoints), endpoints
    assert total(found, "openclaw_queue_depth", queue="default") == 0
    assert ("openclaw_automation_paused", frozenset()) in found
    # Every scrape agrees with the last on the totals no scrape can move.
    for text in texts:
        earlier = samples(text)
        assert total(earlier, "openclaw_events_processed_total") == events
        assert total(earlier, "openclaw_http_requests_total", route="<unmatched>") == STRAYS


@pytest.mark.parametrize(("path", "route"), [("/healthz", "/healthz"), ("/no/such/page/42", "<unmatched>"),
                                           ("/api/v1/alerts/7", "/api/v1/alerts/<id:alert_id>")])
def test_requests_are_labelled_by_route_template(client: Any, path: str, route: str) -> None:
    response = client.get(path)
    found = samples(client.get("/metrics").get_data(as_text=True))
    assert total(found, "openclaw_http_requests_total", route=route, status=str(response.status_code)) >= 1
    assert path == route or path not in label_values(found, "openclaw_http_requests_total", "route")
    assert response.headers["X-Request-ID"]


def test_a_sane_request_id_from_the_proxy_is_kept(client: Any) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    assert client.get("/healthz", headers={"X-Request-ID": "bad id;"}).headers["X-Request-ID"] != "bad id;"
