"""Embedded mode (SQLite, no Redis): sign in, the usage arithmetic and the pages work the same way."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.infra.db import db
from app.inventory.schema import Role
from app.web.queries import usage
from tests.conftest import base_environ
from tests.web.admin.helpers import IsolatedClient, make_account, make_alert, make_call, post, sign_in


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    """An embedded-mode app (SQLite file, no Redis), migrated to head."""
    from flask_migrate import upgrade

    app = create_app(base_environ(f"sqlite:///{tmp_path}/admin.db", REDIS_URL=""))
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_usage_percentiles_and_timeline_on_sqlite(sqlite_app: Flask) -> None:
    for ms in (100, 200, 300, 400, 5000):
        make_call(duration_ms=ms)
    make_call(duration_ms=50, status="error", model="qwen3:8b", user="ou_alice")
    now = datetime.now(UTC)
    summary = usage.summary(now - timedelta(days=1), 3000)
    assert (summary.totals.calls, summary.totals.failed, summary.totals.slow) == (6, 1, 1)
    big = next(s for s in summary.per_model if s.key == "qwen3:32b")
    assert (big.p50, big.p99) == (300.0, 5000.0)  # nearest rank
    assert {s.key for s in summary.per_user} == {"ou_bob", "ou_alice"}
    assert sum(b.calls for b in usage.timeline(now - timedelta(days=1), now, hourly=True)) == 6


def test_sign_in_ack_and_audit_on_sqlite(sqlite_app: Flask) -> None:
    make_account("op", Role.OPERATOR)
    alert = make_alert()
    client = sqlite_app.test_client()
    assert sign_in(sqlite_app.test_client(), "op", "wrong password").status_code == 401  # counted on SQLite too
    assert sign_in(client, "op").status_code == 302
    assert post(client, f"/admin/alerts/{alert.id}/ack").status_code == 302
    page = client.get("/admin/audit?q=DiskFull").get_data(as_text=True)
    assert "<td>alert.ack</td>" in page and "<td>web:op</td>" in page
    for path in ("/admin/", "/admin/usage?days=30", "/admin/executions", "/admin/kb", "/admin/inventory"):
        assert client.get(path).status_code == 200, path


def test_system_page_metrics_and_requeue_on_sqlite(sqlite_app: Flask) -> None:
    from app.inbox.models import EventStatus, InboundEvent
    from app.infra.db import utcnow

    make_account("op", Role.OPERATOR)
    make_call(duration_ms=4000)
    now = utcnow()
    dead = InboundEvent(event_id="evt-dead-sqlite", event_type="im.message.receive_v1", payload={},
                        status=EventStatus.DEAD, attempts=5, last_error="boom", received_at=now, updated_at=now)
    db.session.add(dead)
    db.session.commit()
    client = sqlite_app.test_client()
    assert sign_in(client, "op").status_code == 302
    page = client.get("/admin/system").get_data(as_text=True)
    assert "evt-dead-sqlite" in page and "embedded mode" in page
    assert post(client, f"/admin/system/events/{dead.id}/requeue", token_from="/admin/system").status_code == 302
    metrics_text = client.get("/metrics").get_data(as_text=True)
    assert "openclaw_events_dead_stored 0.0" in metrics_text and 'openclaw_queue_depth{queue="default"}' in metrics_text
