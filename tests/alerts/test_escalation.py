"""Escalation with a controllable clock: app, SMS, phone, then the next person; ack stops it."""
from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from app.alerts import escalation, service
from app.alerts.oncall import person_at
from app.alerts.tasks import tick
from app.infra.db import db
from app.inventory import get_inventory
from tests.alerts.conftest import all_alerts, am_alert, am_payload, post_am

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode

STEP = timedelta(minutes=10)  # escalate_after of the platform schedule


def _critical(client: Any, drain: Any, feishu_server: Any) -> Any:
    post_am(client, am_payload(am_alert()))
    drain()
    feishu_server.buzzes.clear()  # the route's own urgent_app at notification time
    return all_alerts()[0]


def test_unacknowledged_critical_alert_escalates_step_by_step(app: Flask, client: Any, drain: Any,
                                                              feishu_server: Any) -> None:
    alert = _critical(client, drain, feishu_server)
    start = alert.created_at
    schedule = get_inventory().oncall["platform"]
    assert tick(start + STEP - timedelta(seconds=1))["escalated"] == []
    for n in range(1, 5):
        assert tick(start + STEP * n)["escalated"] == [(alert.id, n)]
    message = alert.card_message_id
    # On call at each step's own time (a shift may change mid-ladder); step 4 goes to the next person.
    expected = [(message, kind, [person_at(schedule, start + STEP * n, 1 if n == 4 else 0)])
                for n, kind in ((1, "app"), (2, "sms"), (3, "phone"), (4, "app"))]
    assert feishu_server.buzzes == expected
    assert person_at(schedule, start, 1) != person_at(schedule, start)
    assert "escalation step 4: urgent_app to <at id=" in str(all_alerts()[0].escalation_log)


def test_acknowledge_stops_escalation_at_once(app: Flask, client: Any, drain: Any, feishu_server: Any) -> None:
    alert = _critical(client, drain, feishu_server)
    start = alert.created_at
    tick(start + STEP)
    service.acknowledge(alert_id=alert.id, actor="ou_bob")
    assert tick(start + STEP * 2)["escalated"] == [] and tick(start + STEP * 9)["escalated"] == []
    assert len(feishu_server.buzzes) == 1


def test_ladder_ends_after_every_member_had_every_kind(app: Flask, client: Any, drain: Any,
                                                       feishu_server: Any) -> None:
    alert = _critical(client, drain, feishu_server)
    for n in range(1, 10):
        tick(alert.created_at + STEP * n)
    assert len(feishu_server.buzzes) == 6 and all_alerts()[0].next_escalation_at is None


def test_workers_racing_on_a_due_step_buzz_once(app: Flask, client: Any, drain: Any, feishu_server: Any) -> None:
    alert = _critical(client, drain, feishu_server)
    when = alert.created_at + STEP
    results: list[list[tuple[int, int]]] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            results.append(escalation.run_due(when))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert len(feishu_server.buzzes) == 1


def test_warning_alerts_do_not_escalate(app: Flask, client: Any, drain: Any, feishu_server: Any) -> None:
    post_am(client, am_payload(am_alert(severity="warning")))
    drain()
    alert = all_alerts()[0]
    assert alert.next_escalation_at is None
    assert tick(alert.created_at + STEP * 3)["escalated"] == [] and feishu_server.buzzes == []


def test_silence_holds_the_ladder(app: Flask, client: Any, drain: Any, feishu_server: Any) -> None:
    alert = _critical(client, drain, feishu_server)
    service.create_silence(matchers={"alertname": "HighCPU"}, seconds=3600, actor="ou_bob", now=alert.created_at)
    assert tick(alert.created_at + STEP)["escalated"] == [] and feishu_server.buzzes == []
    assert tick(alert.created_at + timedelta(minutes=61))["escalated"] == [(alert.id, 1)]


@pytest.mark.postgresql_only("the once-per-interval claim is shared through Redis between worker processes")
def test_the_alert_tick_runs_once_per_interval_across_workers(app: Flask, client: Any, drain: Any,
                                                               feishu_server: Any) -> None:
    from app.alerts.tasks import tick_alerts
    from app.infra.scheduler import Scheduler
    from app.worker import SCHEDULE

    entry = next(p for p in SCHEDULE if p.name == "alerts_tick")
    assert entry.job is tick_alerts and entry.interval(app) == app.config["ALERT_TICK_INTERVAL"]
    assert "alerts_tick" in Scheduler(app, SCHEDULE).run_due()
    assert "alerts_tick" not in Scheduler(app, SCHEDULE).run_due()  # another worker's scheduler in the same interval
    alert = _critical(client, drain, feishu_server)
    assert tick_alerts((alert.created_at + STEP).timestamp())["escalated"] == [(alert.id, 1)]



def test_critical_alert_on_a_log_only_route_is_sent_to_the_on_call_person(app: Flask, client: Any, drain: Any,
                                                                          feishu_server: Any) -> None:
    inventory = get_inventory()
    app.extensions["openclaw.inventory"] = inventory.model_copy(
        update={"alerting": inventory.alerting.model_copy(update={"routes": []})})
    post_am(client, am_payload(am_alert()))
    drain()
    alert = all_alerts()[0]
    assert alert.notify_state == "logged" and alert.card_message_id is None and feishu_server.messages() == []
    assert tick(alert.created_at + STEP)["escalated"] == [(alert.id, 1)]
    (direct,) = feishu_server.messages()
    person = person_at(inventory.oncall["platform"], alert.created_at + STEP)
    assert (direct.receive_id, direct.receive_id_type) == (person, "open_id")
    assert feishu_server.buzzes == [(direct.message_id, "app", [person])]
