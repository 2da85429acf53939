"""Admin pages through the test client on PostgreSQL: lists, filters, details and actions."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select, text

from app.alerts.models import Alert, Silence
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.automation.models import Execution, ExecutionStatus
from app.infra.db import db
from app.inventory.schema import Role
from app.kb import service as kb
from app.users.models import ApiToken
from tests.web.admin.helpers import make_alert, make_call, make_execution, post

SignedIn = Callable[[Role], Any]


def text_of(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.get_data(as_text=True))


def test_overview_shows_open_alerts_by_severity_executions_usage_and_pause(app: Flask, signed_in: SignedIn) -> None:
    make_alert("DiskFull", severity="critical")
    make_alert("HighLoad", severity="warning")
    make_alert("Old", severity="critical", status="resolved")
    make_execution(ExecutionStatus.RUNNING, target="shop-api")
    make_call(duration_ms=1200)
    page = text_of(signed_in(Role.AUDITOR).get("/admin/"))
    assert 'class="tile s-critical" href="/admin/alerts?severity=critical"><strong>1</strong>' in page
    assert "shop-api" in page and "running" in page
    assert "1 calls" in page
    assert "not paused" in page
    user_page = text_of(signed_in(Role.USER).get("/admin/"))
    assert "shop-api" not in user_page and "Model usage today" not in user_page  # auditor and up only


def test_alerts_filter_by_state_severity_and_service(app: Flask, signed_in: SignedIn) -> None:
    make_alert("DiskFull", severity="critical", service="nginx")
    make_alert("QueueDepth", severity="warning", service="rabbit")
    make_alert("Gone", severity="warning", status="resolved")
    client = signed_in(Role.USER)
    assert "DiskFull" in (page := text_of(client.get("/admin/alerts"))) and "Gone" not in page
    warning = text_of(client.get("/admin/alerts?severity=warning&status=all"))
    assert "QueueDepth" in warning and "Gone" in warning and "DiskFull" not in warning
    assert "QueueDepth" not in text_of(client.get("/admin/alerts?service=nginx"))
    assert client.get("/admin/alerts?severity=bogus").status_code == 400


def test_alerts_are_paginated(app: Flask, signed_in: SignedIn) -> None:
    for n in range(7):
        make_alert(f"Alert{n}")
    client = signed_in(Role.USER)
    first = text_of(client.get("/admin/alerts?per_page=5"))
    assert "Alert6" in first and "Alert1" not in first and 'rel="next"' in first
    second = text_of(client.get("/admin/alerts?per_page=5&page=2"))
    assert "Alert1" in second and "Alert0" in second and 'rel="next"' not in second


def test_acknowledging_an_alert_goes_through_the_service_and_shows_in_its_history(
    app: Flask, signed_in: SignedIn
) -> None:
    alert = make_alert()
    client = signed_in(Role.OPERATOR)
    detail = text_of(client.get(f"/admin/alerts/{alert.id}"))
    assert "Acknowledge" in detail
    response = post(client, f"/admin/alerts/{alert.id}/ack", token_from=f"/admin/alerts/{alert.id}")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).status == "acknowledged"
    assert db.session.get(Alert, alert.id).acked_by == "web:operator"
    after = text_of(client.get(f"/admin/alerts/{alert.id}"))
    assert "alert.ack" in after and "web:operator" in after and ">Acknowledge<" not in after
    again = post(client, f"/admin/alerts/{alert.id}/ack", follow_redirects=True)
    assert "already acknowledged" in again.get_data(as_text=True)
    post(client, f"/admin/alerts/{alert.id}/resolve")
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).status == "resolved"


def test_an_auditor_sees_no_action_buttons_and_cannot_act(app: Flask, signed_in: SignedIn) -> None:
    alert = make_alert()
    client = signed_in(Role.AUDITOR)
    assert ">Acknowledge<" not in text_of(client.get(f"/admin/alerts/{alert.id}"))
    assert post(client, f"/admin/alerts/{alert.id}/ack").status_code == 403
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).status == "firing"


def test_silences_can_be_added_and_ended(app: Flask, signed_in: SignedIn) -> None:
    client = signed_in(Role.OPERATOR)
    response = post(client, "/admin/silences", {"matchers": "alertname=DiskFull,host=web-01", "duration": "2h",
                                                 "comment": "disk swap"}, follow_redirects=True)
    assert "Silence #" in response.get_data(as_text=True)
    silence = db.session.execute(select(Silence)).scalar_one()
    assert silence.matchers == {"alertname": "DiskFull", "host": "web-01"} and silence.created_by == "web:operator"
    assert "alertname=DiskFull,host=web-01" in text_of(client.get("/admin/silences"))
    bad = post(client, "/admin/silences", {"matchers": "nonsense", "duration": "2h"}, follow_redirects=True)
    assert "bad matcher" in bad.get_data(as_text=True)
    post(client, f"/admin/silences/{silence.id}/remove")
    db.session.expire_all()
    assert db.session.get(Silence, silence.id).removed_by == "web:operator"
    assert "alertname=DiskFull" in text_of(client.get("/admin/silences?past=1"))


def test_execution_detail_shows_who_arguments_and_host_output(app: Flask, signed_in: SignedIn) -> None:
    execution = make_execution(output="line one\n<b>not bold</b>")
    client = signed_in(Role.AUDITOR)
    assert f"/admin/executions/{execution.id}" in text_of(client.get("/admin/executions?kind=restart"))
    assert f"/admin/executions/{execution.id}" not in text_of(client.get("/admin/executions?status=running"))
    page = text_of(client.get(f"/admin/executions/{execution.id}"))
    assert "Bob" in page and "service=nginx" in page and "web-01" in page
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page  # output is escaped
    assert "systemctl restart nginx" in page


def test_cancel_stops_a_queued_execution(app: Flask, signed_in: SignedIn) -> None:
    execution = make_execution(ExecutionStatus.QUEUED)
    client = signed_in(Role.OPERATOR)
    response = post(client, f"/admin/executions/{execution.id}/cancel", follow_redirects=True)
    assert "cancelled" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Execution, execution.id).status is ExecutionStatus.CANCELLED
    finished = post(client, f"/admin/executions/{execution.id}/cancel", follow_redirects=True)
    assert "nothing to cancel" in finished.get_data(as_text=True)


def test_audit_log_searches_filters_and_shows_the_chain_check(app: Flask, signed_in: SignedIn) -> None:
    audit.record(actor="ou_bob", action="alert.ack", target="alert:7", details={"title": "DiskFull on web-01"})
    audit.record(actor="ou_alice", action="kb.add", target="kb:1", details={"title": "Nginx 502"})
    client = signed_in(Role.AUDITOR)
    page = text_of(client.get("/admin/audit"))
    assert "not been verified" in page
    assert "<td>kb.add</td>" in page and "<td>alert.ack</td>" in page
    assert "<td>kb.add</td>" not in text_of(client.get("/admin/audit?action=alert.*"))
    assert "<td>alert.ack</td>" not in text_of(client.get("/admin/audit?q=Nginx"))
    assert "<td>kb.add</td>" not in text_of(client.get("/admin/audit?actor=ou_bob"))
    assert client.get("/admin/audit?since=yesterday").status_code == 400
    verified = post(client, "/admin/audit/verify", follow_redirects=True)
    assert "Audit chain intact" in verified.get_data(as_text=True)
    assert "Chain intact" in text_of(client.get("/admin/audit"))


def test_a_broken_chain_is_shown_plainly(app: Flask, signed_in: SignedIn) -> None:
    first = audit.record(actor="ou_bob", action="alert.ack", target="alert:1")
    audit.record(actor="ou_bob", action="alert.resolve", target="alert:1")
    # As a DBA could: the append-only trigger switched off for one transaction.
    db.session.execute(text("SET LOCAL session_replication_role = replica"))
    db.session.execute(text("UPDATE audit_events SET actor = 'ou_mallory' WHERE id = :id"), {"id": first.id})
    db.session.commit()
    client = signed_in(Role.AUDITOR)
    post(client, "/admin/audit/verify")
    page = text_of(client.get("/admin/audit"))
    assert "Chain BROKEN" in page and f"record #{first.seq}" in page


def test_knowledge_base_add_search_edit_and_history(app: Flask, signed_in: SignedIn) -> None:
    client = signed_in(Role.OPERATOR)
    response = post(client, "/admin/kb/new", {"title": "Nginx 502", "tags": "nginx, web",
                                               "body": "Check the upstream pool first."}, token_from="/admin/kb/new")
    assert response.status_code == 302
    article = kb.get_article_by_title("Nginx 502")
    assert article is not None and article.author == "web:operator" and article.tags == ["nginx", "web"]
    assert "Nginx 502" in text_of(client.get("/admin/kb?q=upstream"))
    edit_path = f"/admin/kb/{article.id}/edit"
    assert 'value="nginx, web"' in text_of(client.get(edit_path))
    post(client, edit_path, {"title": "Nginx 502", "tags": "nginx", "body": "Restart php-fpm.", "version": "1"},
         token_from=edit_path)
    page = text_of(client.get(f"/admin/kb/{article.id}"))
    assert "Restart php-fpm." in page and "version 2" in page
    old = text_of(client.get(f"/admin/kb/{article.id}?version=1"))
    assert "Check the upstream pool first." in old and "an old version" in old
    stale = post(client, edit_path, {"title": "Nginx 502", "body": "late edit", "version": "1"}, token_from=edit_path)
    assert stale.status_code == 409
    assert kb.get_article(article.id).body == "Restart php-fpm."


def test_usage_page_shows_totals_percentiles_per_model_and_user_and_a_chart(app: Flask, signed_in: SignedIn) -> None:
    for ms in (100, 200, 300, 400, 5000):
        make_call(duration_ms=ms, model="qwen3:32b", user="ou_bob")
    make_call(duration_ms=50, model="qwen3:8b", user="ou_alice", status="error")
    client = signed_in(Role.AUDITOR)
    page = text_of(client.get("/admin/usage"))
    assert "<strong>6</strong> calls" in page and "<strong>1</strong> failed" in page
    assert "<strong>1</strong> slow" in page  # 5000 ms > LLM_SLOW_MS (3000)
    assert "<td>qwen3:32b</td><td>5</td>" in page and "<td>Bob</td><td>5</td>" in page
    assert "<td>300.0</td>" in page  # p50 of qwen3:32b
    assert "<svg" in page and "<rect" in page
    failed = text_of(client.get("/admin/usage?status=error"))
    assert "boom" in failed and "qwen3:32b</td><td>100" not in failed
    assert client.get("/admin/usage?days=3").status_code == 400


def test_inventory_shows_hosts_services_runbooks_and_who_is_on_call(app: Flask, signed_in: SignedIn) -> None:
    page = text_of(signed_in(Role.USER).get("/admin/inventory"))
    for expected in ("web-01", "nginx.service", "clean-tmp", "platform"):
        assert expected in page
    assert "<strong>Bob</strong>" in page or "<strong>Alice</strong>" in page
    assert "http POST https://ci.example.com/builds/{build} (expect 201)" in page  # a runbook's steps


def test_console_sends_text_through_the_router_as_the_chosen_person(
    app: Flask, signed_in: SignedIn, drain: Callable[[], None]
) -> None:
    client = signed_in(Role.ADMIN)
    form = text_of(client.get("/admin/console"))
    assert 'value="ou_bob"' in form and 'selected value="ou_alice"' in form
    response = post(client, "/admin/console", {"open_id": "ou_carol", "text": "/help"}, token_from="/admin/console")
    assert response.status_code == 302
    event_id = int(response.headers["Location"].rsplit("=", 1)[1])
    waiting = client.get(f"/admin/console/events/{event_id}")
    assert waiting.headers["X-Finished"] == "0"
    drain()
    done = client.get(f"/admin/console/events/{event_id}")
    assert done.headers["X-Finished"] == "1"
    reply = done.get_data(as_text=True)
    assert "/help" in reply and "/status" in reply  # the help text as Carol (auditor) sees it
    sent = db.session.execute(select(AuditEvent).where(AuditEvent.action == "console.send")).scalar_one()
    assert sent.actor == "ou_alice" and sent.details["as"] == "ou_carol"  # the admin account is Alice's


def test_tokens_page_creates_a_token_shown_once_and_revokes_it(app: Flask, signed_in: SignedIn) -> None:
    client = signed_in(Role.USER)
    created = post(client, "/admin/tokens", {"name": "grafana"}, token_from="/admin/tokens")
    assert created.status_code == 201
    token = created.get_data(as_text=True).split('<code class="token">')[1].split("<")[0]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token not in text_of(client.get("/admin/tokens"))
    row = db.session.execute(select(ApiToken)).scalar_one()
    post(client, f"/admin/tokens/{row.id}/revoke", token_from="/admin/tokens")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    other = signed_in(Role.OPERATOR)
    assert post(other, f"/admin/tokens/{row.id}/revoke", token_from="/admin/tokens").status_code == 404


def test_without_an_encrypt_key_start_up_logs_a_warning_and_the_overview_shows_it(
    make_app: Callable[..., Flask], caplog: Any
) -> None:
    from tests.web.admin.helpers import IsolatedClient, make_account, sign_in

    caplog.set_level("WARNING", logger="app.posture")
    weak = make_app(FEISHU_ENCRYPT_KEY="", FEISHU_LEGACY_CARD_CALLBACKS="true")
    logged = [r.getMessage() for r in caplog.records if r.name == "app.posture"]
    assert any("FEISHU_ENCRYPT_KEY is not set" in m for m in logged)
    assert any("FEISHU_LEGACY_CARD_CALLBACKS is on" in m for m in logged)
    weak.test_client_class = IsolatedClient
    with weak.app_context():
        make_account("aud", Role.AUDITOR)
        client = weak.test_client()
        sign_in(client, "aud")
        page = text_of(client.get("/admin/"))
        assert "Insecure setting: FEISHU_ENCRYPT_KEY is not set" in page
        assert "FEISHU_LEGACY_CARD_CALLBACKS is on" in page
        db.session.remove()


def test_with_an_encrypt_key_the_overview_shows_no_insecure_setting(app: Flask, signed_in: SignedIn) -> None:
    assert "Insecure setting" not in text_of(signed_in(Role.ADMIN).get("/admin/"))
