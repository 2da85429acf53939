"""Fixtures for the incident tests: an app on a two-rotation inventory, a `say` helper, alert rows."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.alerts.models import Alert
from app.alerts.oncall import person_at
from app.chat.registry import dispatch
from app.chat.types import CommandContext, Reply
from app.incidents.models import Incident
from app.infra.db import db, utcnow
from app.inventory import get_inventory
from app.users.service import role_of
from tests.conftest import base_environ, settle_jobs

INVENTORY = Path(__file__).resolve().parent / "inventory.yaml"


@pytest.fixture
def app(make_app: Callable[..., Flask], feishu_server: Any) -> Iterator[Flask]:
    """The app on PostgreSQL + Redis talking to the fake Feishu; oc_ops holds Bob and Alice."""
    feishu_server.add_chat("oc_ops", members=["ou_bob", "ou_alice"], name="ops")
    application = make_app(OPENCLAW_CONFIG=str(INVENTORY), FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret",
                           FEISHU_BASE_URL=feishu_server.url)
    with application.app_context():
        yield application
        settle_jobs(application)
        db.session.remove()


@pytest.fixture
def embedded_app(tmp_path: Path) -> Iterator[Flask]:
    """Embedded mode: SQLite, no Redis, no Feishu credentials (first look, single box, console)."""
    from flask_migrate import upgrade

    application = create_app(base_environ(f"sqlite:///{tmp_path}/openclaw.db", REDIS_URL="",
                                          OPENCLAW_CONFIG=str(INVENTORY)))
    with application.app_context():
        upgrade()
        yield application
        db.session.remove()
        db.engine.dispose()


def ask(text: str, open_id: str = "ou_bob", chat_id: str = "oc_ops", event_id: str | None = None) -> Reply:
    """Run text through dispatch() as the router would for open_id in chat_id."""
    ctx = CommandContext(open_id=open_id, role=role_of(open_id), chat_id=chat_id, chat_type="group",
                         event_id=event_id)
    return dispatch(ctx, text)


def say(text: str, open_id: str = "ou_bob", chat_id: str = "oc_ops", event_id: str | None = None) -> str:
    reply = ask(text, open_id, chat_id, event_id)
    assert reply.text is not None
    return reply.text


def on_call_now(*schedules: str) -> list[str]:
    """Who is on call right now in each schedule (all of them when none named)."""
    oncall = get_inventory().oncall
    return [person_at(oncall[name], utcnow()) for name in schedules or sorted(oncall)]


def make_alert(*, service: str | None = "nginx", host: str = "web-01", alertname: str = "HighLatency",
               acked_by: str | None = None) -> Alert:
    """A firing alert row, as ingest would have stored it."""
    now = utcnow()
    alert = Alert(fingerprint=f"fp-{alertname}-{host}", open_key=f"fp-{alertname}-{host}", source="test",
                  alertname=alertname, severity="critical", status="acknowledged" if acked_by else "firing",
                  host=host, service=service, summary="p99 above 2s", labels={}, annotations={},
                  starts_at=now, last_seen=now, acked_by=acked_by)
    db.session.add(alert)
    db.session.commit()
    return alert


def all_incidents() -> list[Incident]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Incident).order_by(Incident.id)))
