"""Chain checks run from the web or API: verify() and its outcome kept as an audit record of its own."""
from __future__ import annotations

from sqlalchemy import select

from app.audit import service
from app.audit.models import AuditEvent
from app.audit.service import ChainReport
from app.infra import metrics
from app.infra.db import db

ACTION = "audit.verify"


def verify_and_record(*, actor: str) -> ChainReport:
    """Verify the whole chain, then append the result (so the next page view can show it cheaply)."""
    report = service.verify()
    metrics.AUDIT_VERIFICATIONS.labels(result="ok" if report.ok else "broken").inc()
    service.record(actor=actor, action=ACTION, target="audit", details={
        "ok": report.ok, "checked": report.checked, "broken_seq": report.broken_seq,
        "broken_id": report.broken_id, "reason": report.reason,
    })
    return report


def last_check() -> AuditEvent | None:
    """The most recent recorded verification, or None."""
    query = select(AuditEvent).where(AuditEvent.action == ACTION).order_by(AuditEvent.seq.desc()).limit(1)
    return db.session.execute(query).scalar_one_or_none()
