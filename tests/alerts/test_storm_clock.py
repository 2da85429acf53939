"""Item 10 of issue 16: one storm, one summary card, at most ALERT_STORM_THRESHOLD messages per chat,
however the storm falls on the clock (a sliding window, bounded by ALERT_STORM_MAX)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.alerts import notify
from app.alerts.models import AlertBatch, NotifyState
from app.alerts.tasks import tick
from app.infra.db import db
from tests.alerts.conftest import all_alerts, alert_environ, am_alert, am_payload, cards_to, post_am

# Seven seconds before a 10 s boundary of the old fixed windows (and of a minute).
T0 = datetime(2026, 11, 21, 10, 0, 53, tzinfo=UTC)


@pytest.fixture
def storm_app(make_app: Callable[..., Flask], feishu_server: Any) -> Iterator[Flask]:
    feishu_server.add_chat("oc_ops", members=["ou_bob", "ou_alice"])
    application = make_app(**alert_environ(feishu_server.url, ALERT_STORM_WINDOW="10", ALERT_STORM_MAX="120"))
    with application.app_context():
        yield application
        db.session.remove()


def _post(client: Any, names: list[str]) -> list[int]:
    """Store warning alerts (routed to oc_ops) without notifying; their ids in order."""
    before = {a.id for a in all_alerts()}
    alerts = [am_alert(name, severity="warning", fingerprint=f"{abs(hash(name)):016x}"[:16]) for name in names]
    assert post_am(client, am_payload(*alerts)).status_code in (200, 202)
    return sorted(a.id for a in all_alerts() if a.id not in before)


def _summaries(feishu_server: Any) -> list[Any]:
    return [c for c in cards_to(feishu_server) if c.content["header"]["title"]["content"].startswith("Alert storm")]


def test_forty_alerts_across_a_clock_boundary_are_one_storm_within_threshold_messages(
        storm_app: Flask, feishu_server: Any) -> None:
    client = storm_app.test_client()
    ids = _post(client, [f"Storm{i}" for i in range(40)])
    threshold = storm_app.config["ALERT_STORM_THRESHOLD"]
    for i, alert_id in enumerate(ids):  # one alert every 0.4 s: 16 s, across :00 and :10
        notify.notify(alert_id, now=T0 + timedelta(seconds=0.4 * i))
    end = T0 + timedelta(seconds=0.4 * 39)
    messages = cards_to(feishu_server)
    assert len(messages) <= 5 and len(messages) == threshold
    [summary] = _summaries(feishu_server)
    assert summary.content["header"]["title"]["content"].startswith("Alert storm: 5 alerts since 10:00:53 UTC")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AlertBatch)) == 1
    tick(end + timedelta(seconds=6))  # the summary card grows to list the whole storm
    latest = summary.updates[-1]
    assert latest["header"]["title"]["content"].startswith("Alert storm: 40 alerts since 10:00:53 UTC")
    listed = str(latest["body"])
    grouped = [a for a in all_alerts() if a.notify_state == NotifyState.GROUPED]
    assert len(grouped) == 41 - threshold and all(f"#{a.id} **{a.title}**" in listed for a in grouped)
    states = [a.notify_state for a in all_alerts()]
    assert states.count(NotifyState.SENT) == threshold - 1 and states.count(NotifyState.GROUPED) == 41 - threshold
    assert len(cards_to(feishu_server)) == threshold  # updates, never new messages

    # A quiet gap longer than the window ends the storm: the next alert is news again.
    [later] = _post(client, ["AfterTheStorm"])
    notify.notify(later, now=end + timedelta(seconds=11))
    assert len(cards_to(feishu_server)) == threshold + 1
    assert "AfterTheStorm" in str(cards_to(feishu_server)[-1].content)


def test_a_storm_that_never_pauses_is_cut_at_alert_storm_max(storm_app: Flask, feishu_server: Any) -> None:
    client = storm_app.test_client()
    ids = _post(client, [f"Drizzle{i}" for i in range(31)])
    for i, alert_id in enumerate(ids):  # one alert every 5 s for 150 s; ALERT_STORM_MAX is 120 s
        notify.notify(alert_id, now=T0 + timedelta(seconds=5 * i))
    sizes = db.session.scalars(sa.select(AlertBatch.size).order_by(AlertBatch.bucket)).all()
    assert sizes == [25, 6]  # 0..120 s, then a new storm
    assert len(_summaries(feishu_server)) == 2
    assert len(cards_to(feishu_server)) == 2 * storm_app.config["ALERT_STORM_THRESHOLD"]
