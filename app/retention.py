"""Retention: drop raw payloads, command output and model-call rows after their RETENTION_*_DAYS.

Per kind, 0 keeps everything. The audit log is never pruned (its chain would break, and it is the
record of who did what). Deletes go in small batches so no table is locked for long; the job is
queued by the scheduler once per RETENTION_INTERVAL across all workers and is safe to run twice.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, update

from app.ai.models import LLMCall
from app.audit import service as audit
from app.automation.models import ExecutionHost
from app.inbox.models import ConsoleReply, EventStatus, InboundEvent
from app.infra.db import db, utcnow
from app.infra.queue import job
from app.infra.scheduler import Periodic

logger = logging.getLogger(__name__)

ACTOR = "openclaw:retention"
BATCH = 1000
OUTPUT_REMOVED = "(output removed after RETENTION_EXECUTION_OUTPUT_DAYS)"


def _cutoff(now: datetime, setting: str) -> datetime | None:
    days = int(current_app.config[setting])
    return now - timedelta(days=days) if days > 0 else None


def _batches(ids_query: Any, apply: Any) -> int:
    """Run apply(ids) for each batch of ids the query finds, committing each; the rows touched."""
    total = 0
    while True:
        ids = list(db.session.scalars(ids_query.limit(BATCH)))
        if not ids:
            return total
        apply(ids)
        db.session.commit()
        total += len(ids)


def prune_events(now: datetime) -> int:
    """Finished inbound events (raw payloads) older than RETENTION_EVENTS_DAYS, with their console replies."""
    cutoff = _cutoff(now, "RETENTION_EVENTS_DAYS")
    if cutoff is None:
        return 0
    finished = (EventStatus.DONE, EventStatus.IGNORED, EventStatus.DEAD)
    query = select(InboundEvent.id).where(InboundEvent.received_at < cutoff, InboundEvent.status.in_(finished))

    def remove(ids: list[int]) -> None:
        db.session.execute(delete(ConsoleReply).where(ConsoleReply.event_id.in_(ids)))
        db.session.execute(delete(InboundEvent).where(InboundEvent.id.in_(ids)))

    return _batches(query, remove)


def prune_execution_output(now: datetime) -> int:
    """Blank the output of host steps finished more than RETENTION_EXECUTION_OUTPUT_DAYS ago (the rows stay)."""
    cutoff = _cutoff(now, "RETENTION_EXECUTION_OUTPUT_DAYS")
    if cutoff is None:
        return 0
    query = select(ExecutionHost.id).where(ExecutionHost.started_at < cutoff, ExecutionHost.output != OUTPUT_REMOVED,
                                           ExecutionHost.output != "")
    return _batches(query, lambda ids: db.session.execute(
        update(ExecutionHost).where(ExecutionHost.id.in_(ids)).values(output=OUTPUT_REMOVED)))


def prune_llm_calls(now: datetime) -> int:
    """Model-call rows older than RETENTION_LLM_CALLS_DAYS."""
    cutoff = _cutoff(now, "RETENTION_LLM_CALLS_DAYS")
    if cutoff is None:
        return 0
    query = select(LLMCall.id).where(LLMCall.timestamp < cutoff)
    return _batches(query, lambda ids: db.session.execute(delete(LLMCall).where(LLMCall.id.in_(ids))))


def prune(now: datetime | None = None) -> dict[str, int]:
    """Apply every retention setting once; audited when anything was removed."""
    now = now or utcnow()
    counts = {"events": prune_events(now), "execution_output": prune_execution_output(now),
              "llm_calls": prune_llm_calls(now)}
    if any(counts.values()):
        audit.record(actor=ACTOR, action="retention.prune", details={
            "removed": counts, "days": {name: int(current_app.config[name]) for name in SETTINGS}})
        logger.info("retention pruned old data", extra={"removed": counts})
    return counts


SETTINGS = ("RETENTION_EVENTS_DAYS", "RETENTION_EXECUTION_OUTPUT_DAYS", "RETENTION_LLM_CALLS_DAYS")


@job("default", timeout=1800)
def prune_old_data() -> dict[str, int]:
    """The periodic retention job."""
    return prune()


PERIODIC = (
    Periodic("retention", lambda app: int(app.config["RETENTION_INTERVAL"]), prune_old_data),
)
