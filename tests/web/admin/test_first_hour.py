"""Issue 16, items 5, 6 and 13 on the admin web: error pages, favicon, p95 dot, filters, execution labels,
and cards on the console page read as text (no leaked entities)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from app.automation.models import Execution, ExecutionKind
from app.infra.db import db, utcnow
from app.inventory.schema import Role
from app.web.admin.charts import calls_chart
from app.web.queries.usage import Bucket
from tests.web.admin.helpers import post

SignedIn = Callable[[Role], Any]
HTML = {"Accept": "text/html"}


def test_errors_are_pages_in_the_admin_look(app: Flask, signed_in: SignedIn) -> None:
    client = signed_in(Role.USER)
    missing = client.get("/admin/no-such-page", headers=HTML)
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    page = missing.get_data(as_text=True)
    assert "admin.css" in page and 'class="error-page"' in page and "Not found" in page and "overview" in page
    denied = client.get("/admin/audit", headers=HTML)
    assert denied.status_code == 403 and "Not allowed" in denied.get_data(as_text=True)
    assert 'class="error-page"' in denied.get_data(as_text=True)
    anonymous = app.test_client().get("/admin/nothing-here", headers=HTML)
    assert anonymous.status_code == 404 and "Sign in" in anonymous.get_data(as_text=True)
    machine = app.test_client().get("/admin/nothing-here", headers={"Accept": "application/json"})
    assert machine.status_code == 404 and machine.is_json


def test_an_unexpected_error_is_a_styled_500(app: Flask, signed_in: SignedIn) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    app.view_functions["admin.overview"] = boom
    response = signed_in(Role.USER).get("/admin/", headers=HTML)
    assert response.status_code == 500
    assert 'class="error-page"' in response.get_data(as_text=True) and "boom" not in response.get_data(as_text=True)


def test_favicon(app: Flask) -> None:
    client = app.test_client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 301 and icon.headers["Location"].endswith("/static/favicon.svg")
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert 'rel="icon"' in client.get("/admin/login").get_data(as_text=True)


def test_p95_shows_with_a_single_point() -> None:
    one = str(calls_chart([Bucket("10:00", 0, 0, None), Bucket("11:00", 3, 0, 420.0), Bucket("12:00", 0, 0, None)]))
    assert one.count('class="p95-dot"') == 1 and "<polyline" not in one
    two = str(calls_chart([Bucket("10:00", 1, 0, 100.0), Bucket("11:00", 3, 0, 420.0)]))
    assert two.count('class="p95-dot"') == 2 and "<polyline" in two


def test_filter_labels_stay_with_their_inputs(app: Flask, signed_in: SignedIn) -> None:
    client = signed_in(Role.AUDITOR)
    for path in ("/admin/audit", "/admin/alerts", "/admin/executions", "/admin/usage"):
        page = client.get(path).get_data(as_text=True)
        form = page.split('class="filters"', 1)[1].split("</form>", 1)[0]
        assert form.count("<label") == form.count('class="field"'), path


def test_recent_executions_name_what_ran_once(app: Flask, signed_in: SignedIn) -> None:
    now = utcnow()
    for kind, target, args in ((ExecutionKind.LOGS, "logs nginx", {"service": "nginx"}),
                               (ExecutionKind.DEPLOY, "deploy shop-api prod", {"app": "shop-api", "env": "prod",
                                                                                "version": "1.4.2"}),
                               (ExecutionKind.STATUS, "host web-01", {"selector": "web-01"})):
        db.session.add(Execution(kind=kind, target=target, args=args, plan_digest="0" * 64, requested_by="ou_bob",
                                 status="succeeded", created_at=now))
    db.session.commit()
    client = signed_in(Role.AUDITOR)
    for path in ("/admin/", "/admin/executions"):
        page = client.get(path).get_data(as_text=True)
        assert "logs logs" not in page and "deploy deploy" not in page
        assert "logs nginx" in page and "deploy shop-api prod 1.4.2" in page and "status host web-01" in page


def test_console_page_renders_cards_readably(app: Flask, signed_in: SignedIn, drain: Callable[[], None]) -> None:
    client = signed_in(Role.ADMIN)
    response = post(client, "/admin/console", {"open_id": "ou_alice", "text": "/status local"},
                    token_from="/admin/console")
    event_id = int(response.headers["Location"].rsplit("=", 1)[1])
    drain()
    reply = client.get(f"/admin/console/events/{event_id}").get_data(as_text=True)
    assert "Status: host local" in reply
    assert "&amp;#" not in reply and "&#95;" not in reply and "&lt;font" not in reply
