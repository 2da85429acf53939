"""Fixtures for the alert tests: an app on the alert inventory, payload builders, posting helpers."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.alerts.models import Alert
from app.infra.db import db
from tests.conftest import settle_jobs

INVENTORY = Path(__file__).resolve().parent / "inventory.yaml"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager"
TOKEN = "alert-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def alert_environ(feishu_url: str, **overrides: str) -> dict[str, str]:
    """Settings of an app that talks to the fake Feishu and accepts the test alert token."""
    # An hour-long storm window: a test's alerts never straddle two windows (Feishu's 5 msg/s pacing
    # makes sending a storm take seconds).
    return {"OPENCLAW_CONFIG": str(INVENTORY), "ALERT_WEBHOOK_TOKEN": TOKEN, "FEISHU_APP_ID": "cli_test",
            "FEISHU_APP_SECRET": "secret", "FEISHU_BASE_URL": feishu_url, "ALERT_STORM_WINDOW": "3600",
            **overrides}


@pytest.fixture
def app(make_app: Callable[..., Flask], feishu_server: Any) -> Iterator[Flask]:
    """The app on PostgreSQL + Redis with the alert inventory; oc_ops holds Bob and Alice."""
    feishu_server.add_chat("oc_ops", members=["ou_bob", "ou_alice"])
    application = make_app(**alert_environ(feishu_server.url))
    with application.app_context():
        yield application
        settle_jobs(application)
        db.session.remove()


def fixture(name: str) -> dict[str, Any]:
    """A saved Alertmanager payload."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def am_alert(alertname: str = "HighCPU", *, status: str = "firing", fingerprint: str | None = None,
             severity: str = "critical", host: str = "web-01", **labels: str) -> dict[str, Any]:
    """One alert as Alertmanager puts it in a webhook payload."""
    return {
        "status": status,
        "labels": {"alertname": alertname, "instance": f"{host}:9100", "severity": severity, **labels},
        "annotations": {"summary": f"{alertname} on {host}"},
        "startsAt": "2026-11-21T10:00:00Z",
        "endsAt": "2026-11-21T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": fingerprint or uuid.uuid5(uuid.NAMESPACE_DNS, f"{alertname}/{host}/{severity}").hex[:16],
    }


def am_payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    """A version 4 webhook payload around alerts."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": status, "receiver": "openclaw",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "alerts":
            list(alerts)}


def generic_alert(metric: str = "disk_used", *, host: str = "web-01", severity: str = "warning",
                  **extra: Any) -> dict[str, Any]:
    """One alert in the generic format."""
    return {"source": "zabbix", "host": host, "service": "nginx", "metric": metric, "severity": severity,
            "message": f"{metric} high on {host}", **extra}


def post_am(client: Any, payload: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post("/webhook/alertmanager", data=json.dumps(payload), headers=AUTH if headers is None else headers,
                       content_type="application/json")


def post_generic(client: Any, payload: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post("/webhook/alerts", data=json.dumps(payload), headers=AUTH if headers is None else headers,
                       content_type="application/json")


def all_alerts() -> list[Alert]:
    """Every alert row, oldest first, read fresh."""
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Alert).order_by(Alert.id)))


def cards_to(feishu_server: Any, chat_id: str = "oc_ops") -> list[Any]:
    """Interactive messages the bot sent to chat_id."""
    return [m for m in feishu_server.messages() if m.msg_type == "interactive" and m.receive_id == chat_id]


@pytest.fixture(scope="session")
def live_app() -> Iterator[tuple[Any, str]]:
    """A live HTTP server for the app under test: (swappable WSGI target, base URL)."""
    from tests.alerts.live import LiveServer, SwappableApp, free_port

    target, port = SwappableApp(), free_port()
    with LiveServer(target, port):
        yield target, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def alertmanager(live_app: tuple[Any, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's prometheus-alertmanager posting to the live app with the bearer token; its base URL."""
    from tests.alerts import live

    executable = live.binary()
    if executable is None:
        pytest.fail("prometheus-alertmanager is not installed (scripts/test.sh installs it: apt-get install "
                    "prometheus-alertmanager)")
    folder = tmp_path_factory.mktemp("alertmanager")
    yield from live.start(executable, folder, f"{live_app[1]}/webhook/alertmanager", TOKEN)
