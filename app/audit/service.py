"""record() appends to the audit chain; verify() walks it and names the first broken link."""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.audit.chain import canonical, link_hash
from app.audit.models import GENESIS, AuditEvent
from app.automation.redact import redact_details
from app.errors import AuditWriteFailed
from app.infra.db import db, is_postgres, utcnow
from app.infra.metrics import AUDIT_HEAD_SEQ

logger = logging.getLogger(__name__)

_ADVISORY_LOCK_ID = 0x0A0D17  # one lock id for the whole chain
_local_lock = threading.Lock()
_ATTEMPTS = 5


def _json_safe(details: dict[str, Any]) -> dict[str, Any]:
    """Details as they will read back from a JSON column (so the HMAC matches on verify)."""
    result: dict[str, Any] = json.loads(json.dumps(details, default=str, ensure_ascii=False))
    return result


def record(
    *, actor: str, action: str, target: str | None = None, chat_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one record and commit; AuditWriteFailed if it cannot be written (the caller must stop)."""
    # Details hold what people typed (console text, --grep patterns, arguments): secrets are masked first.
    safe = _json_safe(redact_details(details or {}))
    for attempt in range(_ATTEMPTS):
        try:
            with _local_lock:
                return _append(actor=actor, action=action, target=target, chat_id=chat_id, details=safe)
        except IntegrityError:
            db.session.rollback()  # another process took this seq; read the new head and retry
            logger.info("audit seq race, retrying", extra={"attempt": attempt + 1})
        except SQLAlchemyError as exc:
            db.session.rollback()
            logger.error("audit write failed", extra={"action": action, "actor": actor, "error": str(exc)})
            raise AuditWriteFailed(f"audit write failed: {exc}", user_message="Refused: the audit log cannot be written right now, so nothing was done.") from exc
    raise AuditWriteFailed("audit write kept racing", user_message="Refused: the audit log is busy; try again.")


def _append(
    *, actor: str, action: str, target: str | None, chat_id: str | None, details: dict[str, Any]
) -> AuditEvent:
    if is_postgres():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
    head = db.session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS)
    created_at = utcnow()
    content = canonical(
        seq=seq, created_at=created_at, actor=actor, action=action, target=target, chat_id=chat_id, details=details
    )
    event = AuditEvent(
        seq=seq, created_at=created_at, actor=actor, action=action, target=target, chat_id=chat_id,
        details=details, prev_hash=prev_hash, hash=link_hash(current_app.config["AUDIT_KEY"], content, prev_hash),
    )
    db.session.add(event)
    db.session.commit()
    _publish_head(event)
    return event


def _publish_head(event: AuditEvent) -> None:
    """The new head where someone with database access cannot rewrite it: the log stream and /metrics.

    `audit verify --expect-head SEQ:HASH` checks a head read back from either against the table.
    """
    AUDIT_HEAD_SEQ.set(event.seq)
    logger.info("audit head", extra={"audit_head_seq": event.seq, "audit_head_hash": event.hash,
                                      "audit_action": event.action})


@dataclass(frozen=True)
class Head:
    """A published chain head: the newest record's seq and hash."""

    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Head:
        """SEQ:HASH as printed by `audit head` and logged on every append; ValueError otherwise."""
        seq, sep, digest = text.strip().partition(":")
        if not sep or not seq.isdigit() or int(seq) < 1 or len(digest) != 64 or \
                any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("expected SEQ:HASH, e.g. 42:<64 hex digits> (from the 'audit head' log line)")
        return cls(int(seq), digest)

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def current_head() -> Head | None:
    """The table's newest record as a Head (None for an empty log)."""
    row = db.session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    return Head(row.seq, row.hash) if row else None


def check_head(expected: Head) -> str | None:
    """Why the table does not hold the published head expected (None when it does).

    Records after it are fine (appended since); a missing or different record at its seq is not.
    """
    found = db.session.execute(select(AuditEvent.hash).where(AuditEvent.seq == expected.seq)).scalar_one_or_none()
    if found is None:
        head = current_head()
        ends = f"the log ends at #{head.seq}" if head else "the log is empty"
        return f"published head #{expected.seq} is missing: {ends} (newest records deleted?)"
    if found != expected.hash:
        return f"record #{expected.seq} does not match the published head's hash (log rewritten?)"
    return None


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verify(): ok, how many records were checked, and the first broken one."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str | None = None


def verify(batch: int = 2000) -> ChainReport:
    """Recompute every link in order; stop at the first edited, deleted or reordered record."""
    key = current_app.config["AUDIT_KEY"]
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch))
    for event in rows.scalars():
        if event.seq != expected_seq:
            return ChainReport(False, checked, event.seq, event.id, f"record #{expected_seq} is missing (deleted?)")
        if event.prev_hash != prev_hash:
            return ChainReport(False, checked, event.seq, event.id, "previous-hash link does not match the record before")
        content = canonical(
            seq=event.seq, created_at=event.created_at, actor=event.actor, action=event.action,
            target=event.target, chat_id=event.chat_id, details=event.details,
        )
        if link_hash(key, content, prev_hash) != event.hash:
            return ChainReport(False, checked, event.seq, event.id, "content does not match its HMAC (edited?)")
        expected_seq, prev_hash, checked = expected_seq + 1, event.hash, checked + 1
    return ChainReport(True, checked)
