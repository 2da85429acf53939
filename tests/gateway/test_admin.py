"""Gateway clients beside the bot: /api/v1/usage per client and model, the usage and token pages."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask

from app import create_app
from app.infra.db import db
from app.inventory.schema import Role
from app.web.queries import usage
from tests.conftest import base_environ
from tests.fakes.llm_server import FakeLLMServer, Script
from tests.gateway.conftest import Gateway
from tests.gateway.test_openai import ASK, _post, _wait_calls
from tests.web.admin.helpers import IsolatedClient, make_call, sign_in


def test_usage_api_and_pages_show_gateway_clients_beside_the_bot(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token("dev", name="notebook")
    llm_server.script(Script(usage=(10, 5)), Script(usage=None))
    assert _post(gateway, token, ASK).status_code == 200
    assert _post(gateway, token, {**ASK, "model": "qwen3-raw"}).status_code == 200
    _wait_calls(gateway, 2)
    with gateway.app.app_context():
        make_call(model="qwen3", user="ou_bob")  # the assistant's
        db.session.remove()
    auditor = gateway.token("aud", Role.AUDITOR, name="grafana")
    summary = requests.get(f"{gateway.url}/api/v1/usage", headers=gateway.headers(auditor), timeout=10).json()
    pairs = {(s["key"], s["model"]): (s["calls"], s["input_tokens"]) for s in summary["per_client"]}
    assert pairs[("notebook", "qwen3")] == (1, 10) and pairs[("bot", "qwen3")] == (1, 100)
    assert ("notebook", "qwen3-raw") in pairs
    calls = requests.get(f"{gateway.url}/api/v1/usage/calls?client=notebook", headers=gateway.headers(auditor),
                         timeout=10).json()
    assert sorted((c["model"], c["tokens_estimated"], c["upstream"]) for c in calls["items"]) == [
        ("qwen3", False, "qwen3"), ("qwen3-raw", True, "qwen3-raw")]

    browser = gateway.app.test_client()
    assert sign_in(browser, "aud").status_code == 302
    page = browser.get("/admin/usage").get_data(as_text=True)
    assert "Per client and model" in page and "<td>notebook</td>" in page and "est.</small>" in page


def test_tokens_page_shows_limits_and_last_use(serve, llm_server: FakeLLMServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.gateway.conftest import models_inventory

    models = {"qwen3": {"provider": "openai", "base_url": llm_server.url}}
    gw = serve(OPENCLAW_CONFIG=models_inventory(tmp_path, models, {"roles": {"admin": {"requests_per_minute": 600}}}))
    token = gw.token("boss", Role.ADMIN, name="ci", rate_per_minute=10, concurrency=2)
    assert _post(gw, token, ASK).status_code == 200
    browser = gw.app.test_client()
    assert sign_in(browser, "boss").status_code == 302
    page = browser.get("/admin/tokens").get_data(as_text=True)
    assert "owner: 600 · unlimited · 5" in page and "token: 10 · unlimited · 2" in page
    row = page.split("<td>ci</td>", 1)[1].split("</tr>", 1)[0]
    assert row.count("<td>20") == 2  # created and last used, both timestamps (a token never used shows —)


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    from flask_migrate import upgrade

    app = create_app(base_environ(f"sqlite:///{tmp_path}/gw.db", REDIS_URL=""))
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_per_client_usage_on_sqlite(sqlite_app: Flask) -> None:
    make_call(model="qwen3")
    call = make_call(model="qwen3")
    call.client = "notebook"
    db.session.commit()
    summary = usage.summary(datetime.now(UTC) - timedelta(days=1), 3000)
    assert sorted((s.key, s.model, s.calls) for s in summary.per_client) == [("bot", "qwen3", 1), ("notebook", "qwen3", 1)]
