"""Retention: old payloads, output and model-call rows go; the audit log and recent data stay."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.ai.models import LLMCall
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.automation.models import Execution, ExecutionHost, ExecutionKind, ExecutionStatus
from app.inbox.models import ConsoleReply, EventStatus, InboundEvent
from app.infra.db import db, utcnow
from app.retention import OUTPUT_REMOVED, prune
from tests.conftest import base_environ

DAY = timedelta(days=1)


def seed(now: datetime) -> None:
    """Per kind one row just past its retention and one just inside it, plus an old event still being processed."""
    for name, age, status in (("old", 31, EventStatus.DONE), ("new", 29, EventStatus.DONE),
                              ("busy", 31, EventStatus.PROCESSING)):
        event = InboundEvent(event_id=f"ev-{name}", event_type="im.message.receive_v1", source="console",
                             payload={"text": f"{name} payload"}, status=status, received_at=now - age * DAY,
                             updated_at=now)  # a worker is on the busy one right now
        db.session.add(event)
        db.session.flush()
        db.session.add(ConsoleReply(event_id=event.id, text=f"{name} reply", created_at=now - age * DAY))
    for name, age in (("old", 91), ("new", 89)):
        execution = Execution(kind=ExecutionKind.RUN, target=name, args={}, plan_digest="0" * 64, requested_by="ou_bob",
                              status=ExecutionStatus.SUCCEEDED, created_at=now - age * DAY)
        db.session.add(execution)
        db.session.flush()
        db.session.add(ExecutionHost(execution_id=execution.id, host="web-01", command="uptime", outcome="ok",
                                     output=f"{name} output", started_at=now - age * DAY))
        db.session.add(LLMCall(timestamp=now - age * DAY, request_id=name, provider="ollama", model="qwen3",
                               duration_ms=1.0, status="ok", tags=[]))
    db.session.commit()
    audit.record(actor="ou_bob", action="command.run", target="status")


def remaining() -> dict[str, Any]:
    db.session.expire_all()
    return {
        "events": sorted(db.session.scalars(sa.select(InboundEvent.event_id))),
        "replies": sorted(db.session.scalars(sa.select(ConsoleReply.text))),
        "output": sorted(db.session.scalars(sa.select(ExecutionHost.output))),
        "executions": sorted(db.session.scalars(sa.select(Execution.target))),
        "llm_calls": sorted(db.session.scalars(sa.select(LLMCall.request_id))),
    }


AFTER = {"events": ["ev-busy", "ev-new"], "replies": ["busy reply", "new reply"],
         "output": [OUTPUT_REMOVED, "new output"], "executions": ["new", "old"], "llm_calls": ["new"]}


def test_the_periodic_job_prunes_each_kind_once_across_workers(app: Flask, drain: Any) -> None:
    from app.infra.scheduler import Scheduler
    from app.worker import SCHEDULE

    seed(utcnow())
    entry = next(p for p in SCHEDULE if p.name == "retention")
    assert entry.interval(app) == 3600
    assert "retention" in Scheduler(app, SCHEDULE).run_due()
    assert "retention" not in Scheduler(app, SCHEDULE).run_due()  # another worker's scheduler within the interval
    drain()
    assert remaining() == AFTER
    (pruned,) = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "retention.prune"))
    assert pruned.details["removed"] == {"events": 1, "execution_output": 1, "llm_calls": 1}
    assert audit.verify().ok and db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 2
    assert prune() == {"events": 0, "execution_output": 0, "llm_calls": 0}  # a second run finds nothing


def test_zero_days_keeps_everything(make_app: Any) -> None:
    application = make_app(RETENTION_EVENTS_DAYS="0", RETENTION_EXECUTION_OUTPUT_DAYS="0",
                           RETENTION_LLM_CALLS_DAYS="0")
    with application.app_context():
        seed(utcnow() - 1000 * DAY)
        before = remaining()
        assert prune() == {"events": 0, "execution_output": 0, "llm_calls": 0} and remaining() == before
        db.session.remove()


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    """Embedded mode: a SQLite file migrated to head, no Redis."""
    from flask_migrate import upgrade

    application = create_app(base_environ(f"sqlite:///{tmp_path}/retention.db", REDIS_URL=""))
    with application.app_context():
        upgrade()
        yield application
        db.session.remove()
        db.engine.dispose()


def test_pruning_works_on_sqlite_too(sqlite_app: Flask) -> None:
    seed(utcnow())
    assert prune() == {"events": 1, "execution_output": 1, "llm_calls": 1}
    assert remaining() == AFTER and audit.verify().ok
