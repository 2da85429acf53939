"""Self-monitoring without Prometheus (slow model calls, error bursts as own alerts); alert-pipeline series."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from app.ai import metering
from app.ai.client import ChatResult, LLMClient
from app.alerts.types import AlertStatus
from app.infra import metrics
from app.infra.db import db, utcnow
from app.monitoring import error_window, selfmon
from app.worker import SCHEDULE
from tests.alerts.conftest import alert_environ, all_alerts, cards_to


@pytest.fixture
def app(make_app: Callable[..., Flask], feishu_server: Any) -> Iterator[Flask]:
    """The alert tests' inventory (warnings get a card in oc_ops); slow means over 3 s."""
    feishu_server.add_chat("oc_ops", members=["ou_bob", "ou_alice"])
    application = make_app(**alert_environ(feishu_server.url), LLM_SLOW_MS="3000", SELFMON_SLOW_CALLS="5",
                           SELFMON_ERRORS="30")
    with application.app_context():
        yield application
        db.session.remove()


def slow_calls(count: int, model: str = "qwen3:32b", duration_ms: float = 4200) -> None:
    client = LLMClient(provider="ollama", base_url="http://127.0.0.1:9", model=model)
    for n in range(count):
        metering.record(client, metering.CallMeta(f"req-{n}", "ou_bob", "oc_ops"),
                        ChatResult(input_tokens=100, output_tokens=20, duration_ms=duration_ms), slow_ms=3000)


def test_a_burst_of_slow_model_calls_gives_one_card_then_its_resolution(
    app: Flask, drain: Callable[[], None], feishu_server: Any,
) -> None:
    slow_calls(5)
    slow_calls(3, model="small")  # another model, under the threshold
    now = utcnow()
    first = selfmon.evaluate(now)
    drain()
    again = selfmon.evaluate(now + timedelta(seconds=60))  # still firing: folded, no second card
    drain()
    assert len(first.new) == 1 and not again.new
    [alert] = all_alerts()
    assert (alert.alertname, alert.source, alert.severity) == ("OpenClawSlowModelCalls", "openclaw", "warning")
    assert "5 calls to qwen3:32b slower than 3000 ms" in alert.summary
    [card] = cards_to(feishu_server)
    assert "OpenClawSlowModelCalls" in card.raw_content and "qwen3:32b" in card.raw_content

    cleared = selfmon.evaluate(now + timedelta(minutes=6))  # the calls left the five-minute window
    drain()
    assert cleared.resolved == [alert.id]
    db.session.expire_all()
    assert all_alerts()[0].status == AlertStatus.RESOLVED
    [card] = cards_to(feishu_server)
    assert card.updates[-1]["header"]["template"] == "green"
    assert selfmon.evaluate(now + timedelta(minutes=7)).resolved == []  # nothing left to close


def test_four_slow_calls_or_fast_ones_raise_nothing(app: Flask, drain: Callable[[], None],
                                                    feishu_server: Any) -> None:
    slow_calls(4)
    slow_calls(10, duration_ms=2500)
    assert not selfmon.evaluate().new
    drain()
    assert all_alerts() == [] and cards_to(feishu_server) == []


def test_an_error_burst_raises_the_error_rate_alert(app: Flask, drain: Callable[[], None], feishu_server: Any,
                                                    redis_client: Any) -> None:
    for _ in range(29):
        metrics.count_error("feishu", "unavailable")
    assert not selfmon.evaluate().new
    metrics.count_error("ssh", "unreachable")
    assert error_window.count(300) == 30
    result = selfmon.evaluate()
    drain()
    assert len(result.new) == 1
    [alert] = all_alerts()
    assert alert.alertname == "OpenClawHighErrorRate" and "30 handled errors" in alert.summary
    assert len(cards_to(feishu_server)) == 1


def test_the_scheduler_runs_the_rules() -> None:
    assert "selfmon" in [entry.name for entry in SCHEDULE]


def test_escalations_and_failed_escalations_are_counted(app: Flask, drain: Callable[[], None],
                                                        feishu_server: Any) -> None:
    from app.alerts.tasks import tick
    from tests.alerts.conftest import am_alert, am_payload, post_am

    def count(stage: str) -> float:
        return metrics.ALERTS.labels(stage=stage)._value.get()  # this process's value (no multiprocess dir here)

    escalated, failed = count("escalated"), count("escalation_failed")
    post_am(app.test_client(), am_payload(am_alert()))
    drain()
    [alert] = all_alerts()
    tick(alert.created_at + timedelta(minutes=10))
    assert (count("escalated") - escalated, count("escalation_failed") - failed) == (1, 0)
    feishu_server.fail_next("/urgent_", status=400, code=230001, headers={}, times=5, msg="no permission")
    tick(alert.created_at + timedelta(minutes=20))
    assert (count("escalated") - escalated, count("escalation_failed") - failed) == (1, 1)
