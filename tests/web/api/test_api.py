"""The JSON API: resources, filters, pagination, actions through services, one error shape, tokens."""
from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit import service as audit
from app.automation.models import ExecutionStatus
from app.infra.db import db
from app.inventory.schema import Role
from app.users.models import ApiToken
from app.users.tokens import revoke_token
from tests.web.admin.helpers import make_alert, make_call, make_execution
from tests.conftest import POSTGRESQL
from tests.web.api.conftest import Api

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode


def test_me_names_the_tokens_account_and_notes_its_use(api: Api) -> None:
    assert api.get("/me", Role.OPERATOR).get_json() == {
        "login": "operator", "name": "operator", "role": "operator", "actor": "web:operator"}
    used = db.session.execute(select(ApiToken).where(ApiToken.prefix.is_not(None))).scalars().all()
    assert any(t.last_used_at is not None for t in used)


def test_a_revoked_token_is_refused_at_once(api: Api, tokens: dict[Role, str]) -> None:
    assert api.get("/me", Role.USER).status_code == 200
    row = db.session.execute(select(ApiToken).order_by(ApiToken.id)).scalars().first()
    revoke_token(token_id=row.id, actor="test")
    response = api.get("/me", Role.USER)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json() == {"error": {"code": "unauthorized", "message": response.get_json()["error"]["message"]}}


def test_alerts_list_filters_and_pages(api: Api) -> None:
    for n in range(3):
        make_alert(f"Disk{n}", severity="critical")
    make_alert("Load", severity="warning", service="rabbit")
    make_alert("Old", status="resolved")
    body = api.get("/alerts?per_page=2", Role.USER).get_json()
    assert [a["alertname"] for a in body["items"]] == ["Load", "Disk2"] and body["has_next"] is True
    page2 = api.get("/alerts?per_page=2&page=2", Role.USER).get_json()
    assert [a["alertname"] for a in page2["items"]] == ["Disk1", "Disk0"] and page2["has_next"] is False
    assert [a["alertname"] for a in api.get("/alerts?service=rabbit").get_json()["items"]] == ["Load"]
    assert [a["alertname"] for a in api.get("/alerts?status=resolved").get_json()["items"]] == ["Old"]
    assert len(api.get("/alerts?severity=critical&status=all").get_json()["items"]) == 4
    bad = api.get("/alerts?severity=loud")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid"
    assert api.get("/alerts?per_page=1000").status_code == 400


def test_ack_and_resolve_go_through_the_alerts_service(api: Api) -> None:
    alert = make_alert()
    assert api.post(f"/alerts/{alert.id}/ack", Role.AUDITOR).status_code == 403
    first = api.post(f"/alerts/{alert.id}/ack", Role.OPERATOR).get_json()
    assert first["changed"] is True and first["alert"]["status"] == "acknowledged"
    assert first["alert"]["acked_by"] == "web:operator"
    assert api.post(f"/alerts/{alert.id}/ack", Role.OPERATOR).get_json()["changed"] is False
    resolved = api.post(f"/alerts/{alert.id}/resolve").get_json()
    assert resolved["alert"]["status"] == "resolved" and resolved["alert"]["resolved_by"] == "ou_alice"
    trail = api.get(f"/audit?target=alert:{alert.id}", Role.AUDITOR).get_json()["items"]
    assert [e["action"] for e in trail] == ["alert.resolve", "alert.ack"]
    missing = api.post("/alerts/999999/ack")
    assert missing.status_code == 404 and missing.get_json()["error"] == {"code": "not_found", "message": "No alert #999999."}


def test_executions_show_host_output_and_cancel(api: Api) -> None:
    done = make_execution(output="restarted ok")
    queued = make_execution(ExecutionStatus.QUEUED, target="shop-api")
    assert api.get("/executions", Role.USER).status_code == 403
    listed = api.get("/executions?status=active", Role.AUDITOR).get_json()["items"]
    assert [e["id"] for e in listed] == [queued.id]
    detail = api.get(f"/executions/{done.id}", Role.AUDITOR).get_json()
    assert detail["hosts"][0]["output"] == "restarted ok" and detail["requested_by"] == "ou_bob"
    cancelled = api.post(f"/executions/{queued.id}/cancel", Role.OPERATOR)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    again = api.post(f"/executions/{queued.id}/cancel", Role.OPERATOR)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"


def test_audit_search_and_verify(api: Api) -> None:
    audit.record(actor="ou_bob", action="alert.ack", target="alert:1", details={"title": "DiskFull"})
    audit.record(actor="ou_bob", action="kb.add", target="kb:3")
    found = api.get("/audit?action=alert.*", Role.AUDITOR).get_json()["items"]
    assert [e["action"] for e in found] == ["alert.ack"] and len(found[0]["hash"]) == 64
    assert [e["action"] for e in api.get("/audit?q=DiskFull", Role.AUDITOR).get_json()["items"]] == ["alert.ack"]
    assert api.get("/audit?until=not-a-date", Role.AUDITOR).status_code == 400
    report = api.post("/audit/verify", Role.AUDITOR).get_json()
    assert report["ok"] is True and report["checked"] >= 2 and report["broken_seq"] is None
    assert api.get("/audit?action=audit.verify", Role.AUDITOR).get_json()["items"][0]["details"]["ok"] is True


def test_kb_create_update_versions_and_search(api: Api) -> None:
    assert api.post("/kb", Role.USER, json={"title": "x", "body": "y"}).status_code == 403
    created = api.post("/kb", Role.OPERATOR, json={"title": "Redis OOM", "body": "Raise maxmemory.", "tags": ["redis"]})
    assert created.status_code == 201
    article = created.get_json()
    assert article["version"] == 1 and article["author"] == "web:operator"
    updated = api.put(f"/kb/{article['id']}", Role.OPERATOR, json={"body": "Evict keys first."}).get_json()
    assert updated["version"] == 2 and updated["title"] == "Redis OOM" and updated["tags"] == ["redis"]
    versions = api.get(f"/kb/{article['id']}/versions", Role.USER).get_json()["items"]
    assert [v["body"] for v in versions] == ["Raise maxmemory.", "Evict keys first."]
    hits = api.get("/kb?q=evict keys", Role.USER).get_json()["items"]
    assert hits and hits[0]["id"] == article["id"]
    assert api.get("/kb", Role.USER).get_json()["items"][0]["title"] == "Redis OOM"
    assert api.post("/kb", Role.OPERATOR, json={"title": "", "body": "x"}).status_code == 400
    assert api.post("/kb", Role.OPERATOR, data="not json").status_code == 400
    assert api.put("/kb/999999", Role.OPERATOR, json={"body": "x"}).status_code == 404


def test_usage_reports_percentiles_per_model_and_user(api: Api, db_backend: str) -> None:
    for ms in (100, 200, 300, 400, 500, 600, 700, 800, 900, 1000):
        make_call(duration_ms=ms, model="qwen3:32b")
    make_call(duration_ms=4000, model="qwen3:8b", user="ou_alice", status="error")
    make_call(duration_ms=10, minutes_ago=60 * 30)  # older than a day
    assert api.get("/usage", Role.OPERATOR).status_code == 200
    assert api.get("/usage", Role.USER).status_code == 403
    body = api.get("/usage", Role.AUDITOR).get_json()
    assert body["totals"]["calls"] == 11 and body["totals"]["failed"] == 1 and body["totals"]["slow"] == 1
    big = next(s for s in body["per_model"] if s["key"] == "qwen3:32b")
    p50 = 550.0 if db_backend == POSTGRESQL else 500.0  # percentile_cont on PostgreSQL, nearest rank on SQLite
    assert big["calls"] == 10 and big["p50"] == p50 and big["input_tokens"] == 1000
    assert {s["key"] for s in body["per_user"]} == {"ou_bob", "ou_alice"}
    assert sum(b["calls"] for b in body["timeline"]) == 11
    assert api.get("/usage?days=2", Role.AUDITOR).get_json()["totals"]["calls"] == 12
    failed = api.get("/usage/calls?status=error", Role.AUDITOR).get_json()["items"]
    assert [c["model"] for c in failed] == ["qwen3:8b"]
    assert len(api.get("/usage/calls?slow=1", Role.AUDITOR).get_json()["items"]) == 1
    assert api.get("/usage?days=0", Role.AUDITOR).status_code == 400


def test_unknown_routes_and_methods_use_the_error_shape(api: Api, app: Flask) -> None:
    missing = api.get("/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = api.call(Role.ADMIN, "DELETE", "/alerts")
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == "method_not_allowed"


def test_free_text_audit_search_walks_back_in_slices(api: Api, monkeypatch: object) -> None:
    from app.web.queries import audit as audit_queries

    monkeypatch.setattr(audit_queries, "SEARCH_SLICE", 3)  # type: ignore[attr-defined]
    for n in range(10):
        audit.record(actor="ou_bob", action="kb.add", target=f"kb:{n}", details={"title": "needle" if n % 4 == 0 else "hay"})
    first = api.get("/audit?q=needle&per_page=2", Role.AUDITOR).get_json()
    assert [e["target"] for e in first["items"]] == ["kb:8", "kb:4"] and first["has_next"] is True
    rest = api.get(f"/audit?q=needle&per_page=2&before={first['next_before']}", Role.AUDITOR).get_json()
    assert [e["target"] for e in rest["items"]] == ["kb:0"] and rest["has_next"] is False
    assert api.get("/audit?q=needle&before=abc", Role.AUDITOR).status_code == 400


def test_silences_are_added_listed_and_ended(api: Api) -> None:
    body = {"matchers": {"alertname": "DiskFull", "host": "web-01"}, "duration": "2h", "comment": "disk swap"}
    assert api.post("/silences", Role.AUDITOR, json=body).status_code == 403
    created = api.post("/silences", Role.OPERATOR, json=body)
    assert created.status_code == 201
    silence = created.get_json()
    assert silence["matchers"] == body["matchers"] and silence["created_by"] == "web:operator"
    assert [s["id"] for s in api.get("/silences", Role.USER).get_json()["items"]] == [silence["id"]]
    for bad in ({"matchers": {}, "duration": "2h"}, {"matchers": {"a": "b"}, "duration": "soon"},
                {"matchers": {"a": "b"}, "duration": "60d"}, {"matchers": {"a": 1}, "duration": "1h"}):
        assert api.post("/silences", Role.OPERATOR, json=bad).status_code == 400, bad
    ended = api.call(Role.OPERATOR, "DELETE", f"/silences/{silence['id']}")
    assert ended.status_code == 200 and ended.get_json()["removed_by"] == "web:operator"
    assert api.get("/silences").get_json()["items"] == []
    assert [s["id"] for s in api.get("/silences?state=past").get_json()["items"]] == [silence["id"]]
    assert api.call(Role.OPERATOR, "DELETE", f"/silences/{silence['id']}").status_code == 404


def test_session_cookies_genuine_or_forged_with_the_secret_key_are_no_api_credential(api: Api, app: Flask) -> None:
    from app.users.models import User
    from tests.web.admin.helpers import forged_session_cookie, sign_in

    browser = app.test_client()
    assert sign_in(browser, "admin").status_code == 302  # a genuine admin session
    assert browser.get("/api/v1/me").status_code == 401
    admin = db.session.execute(select(User).where(User.login == "admin")).scalar_one()
    forged = app.test_client()
    forged.set_cookie("session", forged_session_cookie(app, admin.id, admin.session_fingerprint))
    assert forged.get("/api/v1/audit").status_code == 401
    assert forged.post("/api/v1/audit/verify", json={}).status_code == 401


def test_a_token_stops_working_when_its_account_is_removed(api: Api) -> None:
    from app.users.models import User

    assert api.get("/me", Role.OPERATOR).status_code == 200
    db.session.delete(db.session.execute(select(User).where(User.login == "operator")).scalar_one())
    db.session.commit()
    assert api.get("/me", Role.OPERATOR).status_code == 401
