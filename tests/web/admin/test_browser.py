"""End to end in headless Chromium (Debian's package, driven by Playwright): sign in, acknowledge, find it audited."""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.alerts.models import Alert
from app.infra.db import db
from app.inventory.schema import Role
from app.users.models import User
from tests.web.admin.helpers import PASSWORD, make_alert

CHROMIUM = os.environ.get("OPENCLAW_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app served by werkzeug on an ephemeral loopback port, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="admin-e2e", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if os.environ.get("OPENCLAW_SKIP_BROWSER") == "1":
            pytest.skip("OPENCLAW_SKIP_BROWSER=1 and no Chromium")
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


def test_an_operator_signs_in_acknowledges_an_alert_and_finds_it_in_the_audit_log(
    app: Flask, accounts: dict[Role, User], live_url: str, browser: object, tmp_path: Path
) -> None:
    alert = make_alert("DiskFull", host="web-01", summary="/var is 97% full")
    page = browser.new_page(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    page.set_default_timeout(15_000)
    page.goto(f"{live_url}/admin/alerts")
    assert "/admin/login" in page.url
    page.fill("#login", "operator")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_url}/admin/alerts")

    page.click(f"a[href='/admin/alerts/{alert.id}'] >> nth=0")
    page.wait_for_url(f"{live_url}/admin/alerts/{alert.id}")
    page.click("button:has-text('Acknowledge')")
    page.wait_for_selector(".flash.success")
    assert f"Alert #{alert.id} acknowledged." in page.inner_text(".flash.success")
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).status == "acknowledged"

    page.click("nav >> text=Audit")
    page.wait_for_url(f"{live_url}/admin/audit")
    rows = page.locator("table.audit tr", has_text="alert.ack")
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert "web:operator" in row and f"alert:{alert.id}" in row
    page.screenshot(path=str(tmp_path / "audit.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("width", [390, 900, 1280])
def test_audit_filter_labels_stay_beside_their_inputs_at_any_width(
    app: Flask, accounts: dict[Role, User], live_url: str, browser: object, width: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})  # type: ignore[attr-defined]
    page.set_default_timeout(15_000)
    page.goto(f"{live_url}/admin/login")
    page.fill("#login", "auditor")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_url}/admin/audit")
    for name in ("q", "actor", "action", "target", "since", "until"):
        label = page.locator(f"label[for=f-{name}]").bounding_box()
        field = page.locator(f"#f-{name}").bounding_box()
        assert label is not None and field is not None
        # Same row (vertical centres within a few pixels), label to the left of its input.
        assert abs((label["y"] + label["height"] / 2) - (field["y"] + field["height"] / 2)) < 6, (name, width)
        assert label["x"] + label["width"] <= field["x"] + 1, (name, width)
        assert field["x"] + field["width"] <= width, (name, width)  # nothing runs off the screen
    page.close()
