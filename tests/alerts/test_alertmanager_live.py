"""A real Prometheus Alertmanager posts firing, repeated and resolved alerts to the live app."""
from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from app.alerts.models import NotifyState
from app.alerts.tasks import tick
from app.alerts.types import AlertStatus
from tests.alerts.conftest import all_alerts, cards_to


@pytest.fixture
def served(app: Flask, live_app: tuple[Any, str]) -> Iterator[Flask]:
    """The test's app behind the live server Alertmanager posts to."""
    live_app[0].target = app
    yield app
    live_app[0].target = None


def push(base: str, labels: dict[str, str], *, resolved: bool = False) -> None:
    """POST one alert to Alertmanager's /api/v2/alerts, as Prometheus does."""
    now = datetime.now(UTC)
    alert = {"labels": labels, "annotations": {"summary": f"{labels['alertname']} test"},
             "startsAt": (now - timedelta(minutes=1)).isoformat(),
             "endsAt": (now - timedelta(seconds=1) if resolved else now + timedelta(hours=1)).isoformat(),
             "generatorURL": "http://prometheus.test/graph"}
    request = urllib.request.Request(f"{base}/api/v2/alerts", data=json.dumps([alert]).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).close()


def wait_for(check: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_firing_repeat_and_resolved_from_alertmanager(served: Flask, alertmanager: str, drain: Any,
                                                      feishu_server: Any) -> None:
    name = f"LiveDisk{uuid.uuid4().hex[:6]}"
    labels = {"alertname": name, "instance": "web-01:9100", "severity": "warning", "service": "nginx"}
    push(alertmanager, labels)
    wait_for(lambda: len(all_alerts()) == 1, what="the firing alert")
    (alert,) = all_alerts()
    assert alert.source == "alertmanager" and alert.host == "web-01" and alert.fingerprint.startswith("am:")
    drain()
    push(alertmanager, labels)  # Prometheus re-sends while the rule fires; Alertmanager repeats on its interval
    wait_for(lambda: tick()["flushed"] >= 0 and all_alerts()[0].count >= 2, what="a repeat")
    drain()
    assert len(cards_to(feishu_server)) == 1 and all_alerts()[0].notify_state == NotifyState.SENT
    push(alertmanager, labels, resolved=True)
    wait_for(lambda: all_alerts()[0].status == AlertStatus.RESOLVED, what="the resolved notification")
    drain()
    (card,) = cards_to(feishu_server)
    assert card.updates[-1]["header"]["template"] == "green"
    assert len(all_alerts()) == 1


def test_a_group_of_alerts_from_alertmanager_gets_one_card_each(served: Flask, alertmanager: str, drain: Any,
                                                             feishu_server: Any) -> None:
    name = f"LiveGroup{uuid.uuid4().hex[:6]}"
    for host in ("web-01", "web-02", "web-03"):
        push(alertmanager, {"alertname": name, "instance": f"{host}:9100", "severity": "warning"})
    wait_for(lambda: len(all_alerts()) == 3, what="three alerts")
    drain()
    assert sorted(a.host for a in all_alerts()) == ["web-01", "web-02", "web-03"]
    assert len(cards_to(feishu_server)) == 3
