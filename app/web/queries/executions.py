"""Execution lists: filter by status, kind and requester; the active ones for the overview."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.automation.models import Execution, ExecutionKind, ExecutionStatus
from app.infra.db import db
from app.web.queries.pages import Page, paginate

ACTIVE = (ExecutionStatus.QUEUED, ExecutionStatus.AWAITING_APPROVAL, ExecutionStatus.RUNNING)


@dataclass(frozen=True)
class ExecutionFilter:
    """Exact matches on status, kind and requested_by (open_id)."""

    status: str | None = None
    kind: str | None = None
    requested_by: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> ExecutionFilter:
        """From request args; ValueError naming a bad value."""
        status = (args.get("status") or "").strip() or None
        if status is not None and status not in ("active", *[s.value for s in ExecutionStatus]):
            raise ValueError(f"status must be active or one of {', '.join(s.value for s in ExecutionStatus)}")
        kind = (args.get("kind") or "").strip() or None
        if kind is not None and kind not in [k.value for k in ExecutionKind]:
            raise ValueError(f"kind must be one of {', '.join(k.value for k in ExecutionKind)}")
        return cls(status=status, kind=kind, requested_by=(args.get("requested_by") or "").strip()[:128] or None)


def list_executions(flt: ExecutionFilter, page: int, per_page: int) -> Page[Execution]:
    """Executions matching flt, newest first."""
    query = select(Execution).order_by(Execution.id.desc())
    if flt.status == "active":
        query = query.where(Execution.status.in_(ACTIVE))
    elif flt.status:
        query = query.where(Execution.status == ExecutionStatus(flt.status))
    if flt.kind:
        query = query.where(Execution.kind == ExecutionKind(flt.kind))
    if flt.requested_by:
        query = query.where(Execution.requested_by == flt.requested_by)
    return paginate(query, page, per_page)


def active_executions(limit: int = 20) -> list[Execution]:
    """Queued, waiting and running executions, newest first."""
    query = select(Execution).where(Execution.status.in_(ACTIVE)).order_by(Execution.id.desc()).limit(limit)
    return list(db.session.execute(query).scalars())


def recent_executions(limit: int = 10) -> list[Execution]:
    """The latest executions of any status."""
    return list(db.session.execute(select(Execution).order_by(Execution.id.desc()).limit(limit)).scalars())
