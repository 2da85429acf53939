"""Call sites feed their series: Feishu outcomes, model calls, errors, executions, alert stages."""
from __future__ import annotations

from typing import Any

from flask import Flask

from app.ai import metering
from app.ai.client import ChatResult, LLMClient
from app.feishu.client import FeishuClient
from app.infra import metrics
from tests.monitoring.scrape import samples, total


def scrape(client: Any) -> dict[Any, float]:
    return samples(client.get("/metrics").get_data(as_text=True))


def test_feishu_calls_count_rate_limits_retries_and_ids_never_reach_labels(app: Flask, client: Any,
                                                                         feishu_server: Any) -> None:
    before = scrape(client)
    feishu = FeishuClient(feishu_server.url, "cli_test", "secret")
    feishu_server.fail_next("/im/v1/messages", headers={"x-ogw-ratelimit-reset": "0.05"}, times=1)
    feishu.reply_text("om_abc123", "hello")
    after = scrape(client)
    endpoint = "POST /open-apis/im/v1/messages/{id}/reply"

    def delta(**labels: str) -> float:
        return (total(after, "openclaw_feishu_api_calls_total", **labels)
                - total(before, "openclaw_feishu_api_calls_total", **labels))

    assert delta(endpoint=endpoint, outcome="rate_limited") == 1
    assert delta(endpoint=endpoint, outcome="retried") == 1
    assert delta(endpoint=endpoint, outcome="ok") == 1
    assert total(after, "openclaw_feishu_api_seconds_count", endpoint=endpoint) \
        - total(before, "openclaw_feishu_api_seconds_count", endpoint=endpoint) == 2
    assert total(after, "openclaw_errors_total", component="feishu", kind="rate_limited") \
        - total(before, "openclaw_errors_total", component="feishu", kind="rate_limited") == 1
    assert not [key for key in after if "om_abc123" in str(key)]


def test_a_model_call_feeds_calls_durations_tokens_and_efficiency(app: Flask, client: Any) -> None:
    llm = LLMClient(provider="ollama", base_url="http://127.0.0.1:9", model="qwen3:test")
    before = scrape(client)
    meta = metering.CallMeta("req-1", "ou_bob", "oc_x")
    metering.record(llm, meta, ChatResult(input_tokens=400, output_tokens=100, duration_ms=4200, ttft_ms=300),
                    slow_ms=3000)
    metering.record(llm, meta, ChatResult(duration_ms=50), slow_ms=3000, error="boom")
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("openclaw_model_calls_total", model="qwen3:test", upstream="qwen3:test", status="ok") == 1  # the model's route
    assert delta("openclaw_model_calls_total", model="qwen3:test", status="error") == 1
    assert delta("openclaw_model_call_duration_seconds_sum", model="qwen3:test") == 4.25
    assert delta("openclaw_model_ttft_seconds_count", model="qwen3:test") == 1
    assert delta("openclaw_model_tokens_total", model="qwen3:test", direction="input") == 400
    assert delta("openclaw_model_tokens_total", model="qwen3:test", direction="output") == 100
    assert delta("openclaw_model_token_efficiency_sum", model="qwen3:test") == 0.25
    assert delta("openclaw_model_slow_calls_total", model="qwen3:test") == 1
    assert delta("openclaw_errors_total", component="model") == 1


def test_gateway_slot_holds_the_gauge_only_while_in_use(app: Flask, client: Any) -> None:
    with metrics.gateway_slot("primary"):
        during = total(scrape(client), "openclaw_gateway_concurrency_in_use", upstream="primary")
    after = total(scrape(client), "openclaw_gateway_concurrency_in_use", upstream="primary")
    assert during - after == 1


def test_feishu_endpoint_templates_hide_ids() -> None:
    assert metrics.feishu_endpoint("POST", "/open-apis/im/v1/chats/oc_1/members") == \
        "POST /open-apis/im/v1/chats/{id}/members"
    assert metrics.feishu_endpoint("GET", "/open-apis/contact/v3/users/ou_9") == "GET /open-apis/contact/v3/users/{id}"
    assert metrics.feishu_endpoint("POST", "/open-apis/im/v1/messages") == "POST /open-apis/im/v1/messages"


def test_webhook_rejects_are_errors(client: Any) -> None:
    before = scrape(client)
    assert client.post("/webhook/feishu", data="x", content_type="text/plain").status_code == 400
    after = scrape(client)
    assert total(after, "openclaw_errors_total", component="webhook", kind="feishu_bad_request") \
        - total(before, "openclaw_errors_total", component="webhook", kind="feishu_bad_request") == 1


def test_a_finished_execution_is_counted_by_kind_and_status(app: Flask, client: Any) -> None:
    from app.automation import engine
    from app.automation.models import ExecutionStatus
    from tests.web.admin.helpers import make_execution

    before = scrape(client)
    engine.finish(make_execution(ExecutionStatus.RUNNING), ExecutionStatus.FAILED, "exit 1 on web-01")
    after = scrape(client)
    labels = {"kind": "restart", "status": "failed"}
    assert total(after, "openclaw_executions_total", **labels) - total(before, "openclaw_executions_total", **labels) == 1
    assert total(after, "openclaw_execution_duration_seconds_count", kind="restart") \
        - total(before, "openclaw_execution_duration_seconds_count", kind="restart") == 1


def test_audit_appends_and_checks_move_their_series(app: Flask, client: Any) -> None:
    from app.audit import checks, service

    event = service.record(actor="test", action="metrics.check", target="x")
    found = scrape(client)
    assert total(found, "openclaw_audit_head_seq") == event.seq
    before = total(found, "openclaw_audit_verifications_total", result="ok")
    assert checks.verify_and_record(actor="test").ok
    assert total(scrape(client), "openclaw_audit_verifications_total", result="ok") - before == 1


def test_the_pause_switch_is_read_at_scrape_time(app: Flask, client: Any) -> None:
    from app.automation.policy import set_paused
    from app.infra.db import db

    assert total(scrape(client), "openclaw_automation_paused") == 0
    set_paused(True, actor="test")
    db.session.commit()
    assert total(scrape(client), "openclaw_automation_paused") == 1
