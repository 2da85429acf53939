"""Connector health where people look: /readyz, /metrics and the admin System page."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask

from app.inventory.schema import Role
from tests.fakes.feishu_longconn import FakeLongConnServer
from tests.fakes.fixtures import Running
from tests.pushes import im_message
from tests.web.admin.helpers import IsolatedClient, make_account, sign_in


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_readyz_and_metrics_show_each_connector(
    app: Flask, longconn: FakeLongConnServer, start_connector: Callable[..., Running],
) -> None:
    assert app.config["FEISHU_TRANSPORT"] == "longconn"  # PUBLIC_URL is loopback in tests
    client = app.test_client()
    assert client.get("/readyz").get_json()["feishu_longconn"] == {"connected": 0, "connectors": []}

    running = start_connector(app, name="conn-1")
    longconn.wait_connections(1)
    longconn.wait_ack(longconn.send(im_message("/help", chat_type="p2p", mention_bot=False)))
    _wait(lambda: client.get("/readyz").get_json()["feishu_longconn"]["connected"] == 1)
    longconn.close_all()
    _wait(lambda: running.connector.status.reconnects == 1 and running.connector.status.connected)
    _wait(lambda: client.get("/readyz").get_json()["feishu_longconn"]["connectors"][0]["reconnects"] == 1)

    body = client.get("/readyz")
    assert body.status_code == 200
    [entry] = body.get_json()["feishu_longconn"]["connectors"]
    assert entry["name"] == "conn-1" and entry["state"] == "connected" and entry["events"] == 1
    assert entry["last_message_seconds_ago"] is not None and entry["last_message_seconds_ago"] < 30

    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'openclaw_feishu_longconn_connected{connector="conn-1"} 1.0' in metrics
    assert 'openclaw_feishu_longconn_reconnects_total{connector="conn-1"} 1.0' in metrics
    assert 'openclaw_feishu_longconn_events_total{connector="conn-1"} 1.0' in metrics
    assert 'openclaw_feishu_longconn_last_message_age_seconds{connector="conn-1"}' in metrics

    running.stop()
    state = client.get("/readyz").get_json()["feishu_longconn"]
    assert state["connected"] == 0 and state["connectors"][0]["state"] == "stopped"


def test_the_system_page_lists_connectors_or_warns_that_none_reports(
    app: Flask, longconn: FakeLongConnServer, start_connector: Callable[..., Running],
) -> None:
    app.test_client_class = IsolatedClient
    make_account("auditor", Role.AUDITOR)
    client = app.test_client()
    assert sign_in(client, "auditor").status_code == 302
    page = client.get("/admin/system").get_data(as_text=True)
    assert "No connector has reported" in page

    start_connector(app, name="conn-page")
    longconn.wait_connections(1)
    _wait(lambda: "conn-page" in client.get("/admin/system").get_data(as_text=True))
    page = client.get("/admin/system").get_data(as_text=True)
    assert "b-connected" in page and "long connection" in page


def test_webhook_transport_reports_no_connectors(make_app: Callable[..., Flask], feishu_server: Any) -> None:
    app = make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
                   PUBLIC_URL="https://openclaw.example.com")
    assert app.config["FEISHU_TRANSPORT"] == "webhook"
    body = app.test_client().get("/readyz").get_json()
    assert "feishu_longconn" not in body
