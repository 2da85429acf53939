"""Incidents complete: the postmortem draft on close, the admin pages and /api/v1/incidents."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from app.automation.models import Execution, ExecutionKind, ExecutionStatus
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentSeverity
from app.incidents.tasks import draft_postmortems
from app.infra.db import db
from app.inventory.schema import Role
from app.kb import service as kb
from app.users.tokens import create_token
from tests.fakes.llm_fixtures import llm_server  # noqa: F401 - fixture
from tests.fakes.llm_server import FakeLLMServer, Script
from tests.incidents.conftest import INVENTORY, make_alert
from tests.web.admin.helpers import make_account, sign_in

MODEL_TEXT = "## Summary\nnginx returned 502 until the upstream was restarted.\n## Impact\nnot recorded\n## Follow-ups\n- add a check"


@pytest.fixture
def app(make_app: Any, feishu_server: Any, llm_server: FakeLLMServer) -> Iterator[Flask]:  # noqa: F811
    application = make_app(OPENCLAW_CONFIG=str(INVENTORY), LLM_BASE_URL=llm_server.url, LLM_READ_TIMEOUT="2")
    with application.app_context():
        yield application
        db.session.remove()


def _closed_incident() -> Incident:
    alert = make_alert(alertname="NginxDown", host="web-01", service="nginx")
    incident = incidents.open_incident(title="shop 502s", actor="ou_bob", severity=IncidentSeverity.SEV2,
                                       alert_id=alert.id, chat_id="oc_ops").incident
    incidents.add_note(incident_id=incident.id, author="ou_bob", text="upstream pool exhausted on web-01")
    db.session.add(Execution(kind=ExecutionKind.RESTART, target="nginx", args={}, plan_digest="x",
                             requested_by="ou_bob", chat_id="oc_ops", status=ExecutionStatus.SUCCEEDED,
                             summary="nginx restarted on web-01, active"))
    db.session.commit()
    incidents.close_incident(incident_id=incident.id, actor="ou_bob", summary="restarted nginx")
    return incidents.get_incident_or_raise(incident.id)


def test_closing_drafts_one_postmortem_grounded_in_the_record(app: Flask, llm_server: FakeLLMServer) -> None:  # noqa: F811
    llm_server.responder = lambda body: Script(chunks=[MODEL_TEXT])
    incident = _closed_incident()
    [article_id] = draft_postmortems()
    assert draft_postmortems() == []  # drafted once
    prompt = llm_server.requests[-1].json["messages"][-1]["content"]
    assert "upstream pool exhausted on web-01" in prompt and "NginxDown" in prompt and "restart nginx" in prompt
    article = kb.get_article_or_raise(article_id)
    assert article.status == "draft" and article.title == f"Postmortem {incident.ref}: shop 502s"
    assert "**DRAFT**" in article.body and MODEL_TEXT in article.body
    assert "upstream pool exhausted on web-01" in article.body and "nginx restarted on web-01, active" in article.body
    assert incidents.get_incident_or_raise(incident.id).postmortem_article_id == article_id
    assert kb.search("upstream pool exhausted") == []  # a draft is not searchable
    kb.publish_article(article_id=article_id, actor="ou_bob")
    assert [h.article_id for h in kb.search("upstream pool exhausted")] == [article_id]


def test_without_a_model_the_draft_still_holds_the_record(app: Flask, llm_server: FakeLLMServer) -> None:  # noqa: F811
    llm_server.responder = lambda body: Script(status=500)
    _closed_incident()
    [article_id] = draft_postmortems()
    body = kb.get_article_or_raise(article_id).body
    assert "model was unavailable" in body and "upstream pool exhausted on web-01" in body


def test_incident_pages_and_api(app: Flask, llm_server: FakeLLMServer) -> None:  # noqa: F811
    incident = _closed_incident()
    make_account("viewer", Role.USER)
    client = app.test_client()
    token = create_token(login="viewer", name="t")[1]
    headers = {"Authorization": f"Bearer {token}"}
    listed = client.get("/api/v1/incidents?status=resolved", headers=headers).get_json()
    assert [i["ref"] for i in listed["items"]] == [incident.ref]
    assert client.get("/api/v1/incidents?status=open", headers=headers).get_json()["items"] == []
    assert client.get("/api/v1/incidents?severity=sev9", headers=headers).status_code == 400
    detail = client.get(f"/api/v1/incidents/{incident.id}", headers=headers).get_json()
    assert [a["alertname"] for a in detail["alerts"]] == ["NginxDown"]
    assert [a["summary"] for a in detail["actions"]] == ["nginx restarted on web-01, active"]
    assert any("upstream pool exhausted" in t["text"] for t in detail["timeline"])
    assert "ou_bob" in detail["participants"]
    assert client.get("/api/v1/incidents/999999", headers=headers).status_code == 404
    sign_in(client, "viewer")
    page = client.get("/admin/incidents?status=resolved").get_data(as_text=True)
    assert incident.ref in page and "shop 502s" in page
    detail_page = client.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    assert "upstream pool exhausted on web-01" in detail_page and "NginxDown" in detail_page
