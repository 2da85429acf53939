"""POST /webhook/alertmanager and /webhook/alerts: bearer token, 400s, one transaction, dedup."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from app.alerts import ingest as ingest_module
from app.alerts.models import NotifyState
from app.alerts.tasks import tick
from app.alerts.types import AlertStatus
from tests.conftest import embedded, wait_for_jobs
from tests.alerts.conftest import (
    AUTH,
    TOKEN,
    alert_environ,
    all_alerts,
    am_alert,
    am_payload,
    fixture,
    generic_alert,
    post_am,
    post_generic,
)

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": "Bearer"}])
def test_bad_or_missing_token_is_refused_and_nothing_is_stored(client: Any, headers: dict[str, str]) -> None:
    response = post_am(client, fixture("firing.json"), headers=headers)
    assert response.status_code == 401 and response.json["error"]
    assert post_generic(client, generic_alert(), headers=headers).status_code == 401
    assert all_alerts() == []


def test_unset_token_refuses_every_alert_webhook(make_app: Any, feishu_server: Any) -> None:
    application = make_app(**alert_environ(feishu_server.url, ALERT_WEBHOOK_TOKEN=""))
    response = post_am(application.test_client(), fixture("firing.json"))
    assert response.status_code == 401
    assert "ALERT_WEBHOOK_TOKEN is not configured" in response.json["error"]


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "not valid JSON"),
    (b'{"version": "4", "alerts": [{"labels": {}}]}', "alertname is required"),
    (b'"hello"', "JSON object"),
])
def test_malformed_alertmanager_body_gets_400_with_reason(client: Any, body: bytes, reason: str) -> None:
    response = client.post("/webhook/alertmanager", data=body, headers=AUTH, content_type="application/json")
    assert response.status_code == 400 and reason in response.json["error"]
    assert all_alerts() == []


def test_one_bad_alert_in_a_list_stores_none_of_them(client: Any) -> None:
    response = post_generic(client, [generic_alert("a"), generic_alert("b"), {**generic_alert("c"), "severity": "x"}])
    assert response.status_code == 400 and "[2].severity" in response.json["error"]
    assert all_alerts() == []


def test_database_failure_midway_rolls_back_the_whole_request(client: Any, monkeypatch: Any) -> None:
    def broken(*args: Any, **kwargs: Any) -> list[int]:
        raise RuntimeError("database went away")

    post_am(client, am_payload(am_alert("Existing", fingerprint="0000000000000001")))
    monkeypatch.setattr(ingest_module, "_close", broken)
    payload = am_payload(am_alert("New", fingerprint="0000000000000002"),
                         am_alert("Existing", fingerprint="0000000000000001", status="resolved"))
    assert post_am(client, payload).status_code == 500
    monkeypatch.setattr(ingest_module, "_upsert_sql", broken)  # a repeat counted in Redis, a new one failing
    payload = am_payload(am_alert("Existing", fingerprint="0000000000000001"),
                         am_alert("New", fingerprint="0000000000000002"))
    assert post_am(client, payload).status_code == 500
    tick()
    assert [(a.alertname, a.status, a.count) for a in all_alerts()] == [("Existing", AlertStatus.FIRING, 1)]


def test_firing_alerts_are_stored_and_answered(client: Any) -> None:
    response = post_am(client, fixture("firing.json"))
    assert response.status_code == 200
    assert response.json == {"received": 2, "new": 2, "repeats": 0, "reminders": 0, "resolved": 0,
                             "unknown_resolved": 0}
    critical, warning = all_alerts()
    assert (critical.open_key, critical.fingerprint) == ("am:b2f3a7c1d4e5f601",) * 2
    assert critical.labels["job"] == "node"
    if embedded(client.application):  # the in-process queue starts notifying at once
        wait_for_jobs(client.application)
        assert all_alerts()[0].notify_state == NotifyState.SENT
    else:  # queued for a job worker, which this test does not run
        assert critical.notify_state == NotifyState.PENDING
    assert critical.starts_at.isoformat().startswith("2026-11-21T10:00:00.123456")
    assert warning.severity == "warning"


@pytest.mark.postgresql_only("repeats inside the window are counted in Redis")
def test_repeat_alert_within_window_increments_count(client: Any) -> None:
    post_am(client, fixture("firing.json"))
    response = post_am(client, fixture("firing.json"))
    assert response.json["new"] == 0 and response.json["repeats"] == 2 and response.json["reminders"] == 0
    generic = post_generic(client, [generic_alert(), generic_alert(), generic_alert()])
    assert generic.json["new"] == 1 and generic.json["repeats"] == 0
    assert all_alerts()[0].count == 1  # repeats inside the window are counted in Redis first
    assert tick()["flushed"] == 2
    first, _, folded = all_alerts()
    assert first.count == 2 and first.last_seen >= first.created_at
    assert folded.count == 3


def test_resolved_closes_and_refire_is_a_new_occurrence(client: Any) -> None:
    post_am(client, fixture("firing.json"))
    response = post_am(client, fixture("resolved.json"))
    assert response.json["resolved"] == 1
    closed = all_alerts()[0]
    assert closed.status == AlertStatus.RESOLVED and closed.open_key is None and closed.card_stale
    assert closed.ends_at.isoformat().startswith("2026-11-21T10:30")
    assert post_am(client, fixture("resolved.json")).json["unknown_resolved"] == 1
    again = post_am(client, fixture("firing.json")).json
    assert again["new"] == 1 and again["repeats"] == 1
    rows = [a for a in all_alerts() if a.fingerprint == closed.fingerprint]
    assert [(a.status, a.count) for a in rows] == [(AlertStatus.RESOLVED, 1), (AlertStatus.FIRING, 1)]


def test_alerts_resolved_together_keep_their_own_end_times_in_utc(client: Any) -> None:
    first, second = am_alert("First", severity="warning"), am_alert("Second", severity="warning")
    post_am(client, am_payload(first, second))
    post_am(client, am_payload({**first, "status": "resolved", "endsAt": "2026-11-21T18:30:00+08:00"},
                               {**second, "status": "resolved", "endsAt": "2026-11-21T10:45:00Z"}))
    assert {a.alertname: (a.status, a.ends_at) for a in all_alerts()} == {
        "First": (AlertStatus.RESOLVED, datetime(2026, 11, 21, 10, 30, tzinfo=UTC)),
        "Second": (AlertStatus.RESOLVED, datetime(2026, 11, 21, 10, 45, tzinfo=UTC)),
    }


def test_fire_resolve_fire_in_one_request_keeps_order(client: Any) -> None:
    body = [generic_alert(), generic_alert(status="resolved"), generic_alert()]
    assert post_generic(client, body).json == {"received": 3, "new": 2, "repeats": 0, "reminders": 0,
                                                "resolved": 1, "unknown_resolved": 0}
    assert [a.status for a in all_alerts()] == [AlertStatus.RESOLVED, AlertStatus.FIRING]


def test_repeat_after_quiet_gap_longer_than_window_is_a_reminder(app: Flask, client: Any) -> None:
    from app.alerts.ingest import ingest
    from app.alerts.sources import generic
    from app.infra.db import utcnow

    alerts = generic.parse(generic_alert())
    start = utcnow()
    ingest(alerts, dedup_window=300, now=start)
    assert ingest(alerts, dedup_window=300, now=start + timedelta(seconds=200)).reminders == []
    result = ingest(alerts, dedup_window=300, now=start + timedelta(seconds=600))
    assert len(result.reminders) == 1 and result.new == []
    assert all_alerts()[0].count == 3


def test_refire_after_a_manual_resolve_opens_a_new_occurrence(app: Flask, client: Any) -> None:
    from app.alerts import service

    payload = am_payload(am_alert(severity="warning"))
    post_am(client, payload)
    assert post_am(client, payload).json["repeats"] == 1
    service.resolve(alert_id=all_alerts()[0].id, actor="ou_bob")
    assert post_am(client, payload).json["new"] == 1
    tick()
    assert [(a.status, a.count) for a in all_alerts()] == [(AlertStatus.RESOLVED, 2), (AlertStatus.FIRING, 1)]


def test_ingest_outcomes_are_counted_in_metrics(client: Any) -> None:
    def value(outcome: str) -> float:
        for line in client.get("/metrics").get_data(as_text=True).splitlines():
            if line.startswith("openclaw_alerts_ingested_total{") and f'outcome="{outcome}"' in line \
                    and 'endpoint="alerts"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before_new, before_repeat = value("new"), value("repeat")
    post_generic(client, [generic_alert("m1"), generic_alert("m2")])
    post_generic(client, generic_alert("m1"))
    assert (value("new") - before_new, value("repeat") - before_repeat) == (2, 1)


@pytest.mark.postgresql_only("counts the jobs waiting in the RQ queues")
def test_new_alerts_share_one_drain_job_until_it_runs(app: Flask, client: Any, drain: Any,
                                                       feishu_server: Any) -> None:
    from app.infra.queue import EXTENSION

    def queued() -> int:
        return sum(queue.count for queue in app.extensions[EXTENSION].queues.values())

    for i in range(3):
        post_generic(client, generic_alert(f"metric{i}"))
    assert queued() == 1
    drain()
    assert {a.notify_state for a in all_alerts()} == {NotifyState.SENT}
    post_generic(client, generic_alert("later"))
    assert queued() == 1
    drain()
    assert all_alerts()[-1].notify_state == NotifyState.SENT and queued() == 0
