"""The System page: reachability, queues, lag, dead events with an audited requeue; usage heatmap; /readyz."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.inbox.models import EventStatus, InboundEvent
from app.infra.db import db, utcnow
from app.inventory.schema import Role
from tests.fakes.llm_server import FakeLLMServer
from tests.queueing import pending
from tests.web.admin.helpers import make_call, post

SignedIn = Callable[[Role], Any]


def dead_event(error: str = "RuntimeError: Feishu said no") -> InboundEvent:
    now = utcnow()
    event = InboundEvent(event_id=f"evt-dead-{now.timestamp()}", event_type="im.message.receive_v1", payload={},
                         status=EventStatus.DEAD, attempts=5, last_error=error, received_at=now, updated_at=now)
    db.session.add(event)
    db.session.commit()
    return event


def done_event(lag_seconds: float) -> None:
    now = utcnow()
    db.session.add(InboundEvent(event_id=f"evt-done-{lag_seconds}", event_type="im.message.receive_v1", payload={},
                                status=EventStatus.DONE, attempts=1, received_at=now - timedelta(seconds=lag_seconds),
                                updated_at=now, processed_at=now))
    db.session.commit()


def page(client: Any, path: str = "/admin/system") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return str(response.get_data(as_text=True))


def row(html: str, table_id: str, first_cell: str) -> str:
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    [found] = [r for r in table.split("<tr>") if r.startswith(f"<td>{first_cell}</td>")]
    return found


def test_the_system_page_shows_reachability_queues_lag_and_errors(app: Flask, signed_in: SignedIn) -> None:
    done_event(2.0)
    done_event(4.0)
    dead_event()
    make_call(status="error")
    html = page(signed_in(Role.AUDITOR))
    assert "b-ok" in row(html, "reachability", "PostgreSQL")
    assert "b-ok" in row(html, "reachability", "Redis")
    assert "b-ok" in row(html, "reachability", "Feishu")  # the fake Feishu hands out a tenant token
    assert "b-error" in row(html, "reachability", "Model upstream")  # nothing listens on LLM_BASE_URL
    assert "not-configured" in row(html, "reachability", "Prometheus")
    assert "not-configured" in row(html, "reachability", "Elasticsearch")
    assert "<td>default</td><td>0</td>" in html and "<td>automation</td>" in html
    assert "2 events · p50 2.0 s · p95 4.0 s" in html
    assert "Feishu said no" in html and "boom" in html  # the dead event's error and the failed model call
    assert "Requeue" not in html  # auditors look, operators act


def test_an_operator_requeues_a_dead_event_once_and_it_is_audited(app: Flask, signed_in: SignedIn) -> None:
    event = dead_event()
    client = signed_in(Role.OPERATOR)
    assert "Requeue" in page(client)
    response = post(client, f"/admin/system/events/{event.id}/requeue", token_from="/admin/system")
    assert response.status_code == 302
    db.session.expire_all()
    fresh = db.session.get(InboundEvent, event.id)
    assert fresh is not None and (fresh.status, fresh.attempts) == (EventStatus.RECEIVED, 0)
    assert pending(app) == 1
    [audited] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "event.requeue")).all()
    assert audited.target == f"event:{event.id}" and audited.actor.endswith("operator")
    again = post(client, f"/admin/system/events/{event.id}/requeue", token_from="/admin/system",
                 follow_redirects=True)
    assert "is not a dead event" in again.get_data(as_text=True)
    assert pending(app) == 1


def test_requeue_needs_the_csrf_token(app: Flask, signed_in: SignedIn) -> None:
    event = dead_event()
    response = signed_in(Role.OPERATOR).post(f"/admin/system/events/{event.id}/requeue")
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(InboundEvent, event.id).status == EventStatus.DEAD  # type: ignore[union-attr]


def test_usage_shows_the_duration_heatmap_and_token_efficiency(app: Flask, signed_in: SignedIn) -> None:
    make_call(model="qwen3:32b", duration_ms=1000, tokens=(100, 50))
    make_call(model="qwen3:32b", duration_ms=3000, tokens=(300, 30))
    make_call(model="qwen3:32b", duration_ms=9000, status="error", tokens=(0, 0))
    make_call(model="small", duration_ms=200, tokens=(200, 20))
    html = page(signed_in(Role.AUDITOR), "/admin/usage")
    qwen = row(html, "duration-heatmap", "qwen3:32b")
    assert '<td class="heat-4">9000 ms<br><small>1 calls</small></td>' in qwen  # error column, the slowest
    assert '<td class="heat-0">2000 ms<br><small>2 calls</small></td>' in qwen  # ok column: mean of 1 s and 3 s
    assert '<td class="heat-0">—</td>' in row(html, "duration-heatmap", "small")  # small never failed
    efficiency = row(html, "token-efficiency", "qwen3:32b")
    assert "<td>3</td><td>400</td><td>80</td>" in efficiency and "<td>0.2</td>" in efficiency


def test_readyz_asks_the_model_server_only_when_configured(make_app: Callable[..., Flask]) -> None:
    plain = make_app().test_client().get("/readyz")
    assert plain.status_code == 200 and "model" not in plain.get_json()["checks"]
    llm_server = FakeLLMServer().start()
    try:
        up = make_app(READYZ_CHECK_MODEL="true", LLM_BASE_URL=llm_server.url).test_client().get("/readyz")
    finally:
        llm_server.stop()
    assert up.status_code == 200 and up.get_json()["checks"]["model"] == "ok"
    down = make_app(READYZ_CHECK_MODEL="true", LLM_BASE_URL="http://127.0.0.1:9").test_client().get("/readyz")
    assert down.status_code == 503 and down.get_json()["checks"]["model"].startswith("error")
