"""MTTA/MTTR: a scripted fortnight of alerts, acknowledgements and incidents gives known figures.

Runs on PostgreSQL and on the embedded mode's SQLite; weeks are local (Asia/Shanghai).
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from app import create_app
from app.alerts import service as alerts
from app.alerts.models import Alert
from app.incidents.models import Incident
from app.infra.db import db
from app.reports import response
from tests.conftest import base_environ

LOCAL = ZoneInfo("Asia/Shanghai")
MIN = 60


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in local time, 2026-11-<day>, as stored (UTC)."""
    month, day = (11, day) if day <= 30 else (12, day - 30)
    return datetime(2026, month, day, hour, minute, tzinfo=LOCAL).astimezone(UTC)


@pytest.fixture(params=["postgresql", "sqlite"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The app on PostgreSQL + Redis, or in embedded mode on SQLite."""
    if request.param == "postgresql":
        application = request.getfixturevalue("make_app")()
    else:
        application = create_app(base_environ(f"sqlite:///{tmp_path}/openclaw.db", REDIS_URL=""))
    with application.app_context():
        if request.param == "sqlite":
            from flask_migrate import upgrade

            upgrade()
        yield application
        db.session.remove()


_serial = iter(range(1, 10_000))


def alert(created: datetime, *, service: str, severity: str, ack_after: int | None = None,
          resolve_after: int | None = None, by_source: bool = False) -> Alert:
    """An alert received at created, acknowledged and resolved through the service after so many seconds."""
    n = next(_serial)
    row = Alert(fingerprint=f"fp{n}", open_key=f"fp{n}", source="test", alertname=f"A{n}", severity=severity,
                status="firing", service=service, host="web-01", starts_at=created, created_at=created,
                last_seen=created)
    db.session.add(row)
    db.session.commit()
    if ack_after is not None:
        alerts.acknowledge(alert_id=row.id, actor="ou_bob", now=created + timedelta(seconds=ack_after))
    if resolve_after is not None:
        alerts.resolve(alert_id=row.id, actor="source" if by_source else "ou_bob",
                       now=created + timedelta(seconds=resolve_after))
    return row


def incident(opened: datetime, severity: str, closed_after: int | None = None) -> None:
    db.session.add(Incident(title="outage", severity=severity, commander="ou_bob", opened_by="ou_bob",
                            created_at=opened, alert_ids=[], status="resolved" if closed_after else "open",
                            resolved_at=opened + timedelta(seconds=closed_after) if closed_after else None))
    db.session.commit()


def script_fortnight() -> None:
    # Week 2026-W48 (Mon 23 Nov local)
    alert(at(23, 9), service="nginx", severity="critical", ack_after=1 * MIN, resolve_after=10 * MIN)
    # Week 2026-W49 (Mon 30 Nov 00:00 local = Sun 29 Nov 16:00 UTC)
    alert(at(30, 0, 30), service="redis", severity="info", ack_after=3 * MIN, resolve_after=15 * MIN)
    alert(at(31, 10), service="nginx", severity="critical", ack_after=2 * MIN, resolve_after=30 * MIN)
    alert(at(32, 10), service="nginx", severity="warning", ack_after=10 * MIN, resolve_after=60 * MIN)
    alert(at(33, 10), service="redis", severity="critical", ack_after=4 * MIN, resolve_after=20 * MIN)
    alert(at(34, 10), service="redis", severity="warning", resolve_after=5 * MIN, by_source=True)  # never acked
    alert(at(35, 10), service="nginx", severity="critical", ack_after=6 * MIN)  # still open
    incident(at(31, 11), "sev2", closed_after=90 * MIN)
    incident(at(33, 11), "sev3")


def figures(group: response.Group) -> dict[str, tuple[int, int, float | None, float | None]]:
    return {m: (d["count"], d["open"], d["p50"], d["p90"])
            for m, d in ((m, getattr(group, m).as_dict()) for m in ("mtta", "mttr", "incidents"))}


def test_a_scripted_fortnight_gives_known_mtta_and_mttr(app: Flask) -> None:
    script_fortnight()
    result = response.last_weeks(2, now=at(36, 12))
    assert [w.key for w in result.weeks] == ["2026-W48", "2026-W49"]
    w48, w49 = result.weeks
    assert figures(w48) == {"mtta": (1, 0, 60, 60), "mttr": (1, 0, 600, 600), "incidents": (0, 0, None, None)}
    # MTTA 120,180,240,360,600 (the alert resolved unacknowledged is left out); MTTR 300..3600 with one open.
    assert figures(w49) == {"mtta": (5, 0, 240, 600), "mttr": (5, 1, 1200, 3600), "incidents": (1, 1, 5400, 5400)}
    by_service = {g.key: figures(g) for g in result.by_service}
    assert by_service["nginx"]["mtta"] == (4, 0, 120, 600)
    assert by_service["nginx"]["mttr"] == (3, 1, 1800, 3600)
    assert by_service["redis"]["mtta"] == (2, 0, 180, 240)
    assert [g.key for g in result.by_service] == ["nginx", "redis"]  # busiest first
    assert {g.key: figures(g)["mtta"][0] for g in result.by_team} == {"platform": 4, "-": 2}
    severity = {g.key: figures(g) for g in result.by_severity}
    assert severity["critical"]["mtta"] == (4, 0, 120, 360) and severity["sev2"]["incidents"] == (1, 0, 5400, 5400)
    assert figures(result.overall)["mttr"] == (6, 1, 900, 3600)


def test_weeks_follow_the_configured_time_zone(app: Flask) -> None:
    alert(at(30, 0, 30), service="redis", severity="info", ack_after=MIN)  # Monday local, Sunday in UTC
    assert [w.key for w in response.last_weeks(2, now=at(31, 12)).weeks if w.mtta.durations] == ["2026-W49"]
    app.config["TIMEZONE"] = "UTC"
    assert [w.key for w in response.last_weeks(2, now=at(31, 12)).weeks if w.mtta.durations] == ["2026-W48"]


def test_api_and_page_show_the_figures(app: Flask) -> None:
    from app.inventory.schema import Role
    from app.users.tokens import create_token
    from tests.web.admin.helpers import make_account, sign_in

    now = datetime.now(UTC)
    alert(now - timedelta(hours=2), service="nginx", severity="critical", ack_after=3 * MIN, resolve_after=40 * MIN)
    make_account("viewer", Role.USER)
    token = create_token(login="viewer", name="figures")[1]
    client = app.test_client()
    answer = client.get("/api/v1/response-times?weeks=2", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["timezone"] == "Asia/Shanghai"
    assert body["overall"]["mtta"] == {"count": 1, "open": 0, "p50": 180, "p90": 180}
    assert body["by_service"][0]["key"] == "nginx" and body["by_service"][0]["mttr"]["p50"] == 2400
    assert [w["key"] for w in body["weeks"]] == [g.key for g in response.last_weeks(2, now=now).weeks]
    bad = client.get("/api/v1/response-times?weeks=0", headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 400 and "weeks" in bad.get_json()["error"]["message"]
    sign_in(client, "viewer")
    page = client.get("/admin/response?weeks=4")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "MTTA p50 <strong>3.0</strong> min" in html and "nginx" in html and "<svg" in html
    assert client.get("/admin/response?weeks=5").status_code == 400


def test_gauges_carry_the_rolling_week(app: Flask) -> None:
    from app.infra import metrics
    from app.reports.tasks import update_response_gauges

    now = datetime.now(UTC)
    for minutes in (2, 4, 30):
        alert(now - timedelta(hours=3), service="nginx", severity="critical", ack_after=minutes * MIN)
    alert(now - timedelta(days=9), service="nginx", severity="critical", ack_after=90 * MIN)  # outside the window
    update_response_gauges()
    p50 = metrics.RESPONSE_SECONDS.labels(measure="mtta", severity="critical", quantile="50")
    p90 = metrics.RESPONSE_SECONDS.labels(measure="mtta", severity="all", quantile="90")
    assert (p50._value.get(), p90._value.get()) == (240, 1800)
