"""Audit log search: actor, action (exact or prefix*), target, free text and a time range; newest first."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, cast, func, or_, select
from sqlalchemy.types import Text

from app.audit.models import AuditEvent
from app.infra.db import db
from app.web.queries.pages import Page, paginate

SEARCH_SLICE = 10_000  # records per query while searching free text
SEARCH_BUDGET = 0.1  # seconds of slices per request before offering to search further back


def _when(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be an ISO date or time, e.g. 2026-01-31 or 2026-01-31T12:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AuditFilter:
    """What to look for; every field optional."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    q: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_args(cls, args: Any) -> AuditFilter:
        """From request args; ValueError naming a bad value."""
        def text(name: str, size: int) -> str | None:
            return (args.get(name) or "").strip()[:size] or None

        return cls(actor=text("actor", 128), action=text("action", 64), target=text("target", 256),
                   q=text("q", 200), since=_when(args.get("since"), "since"), until=_when(args.get("until"), "until"))


def list_events(flt: AuditFilter, page: int, per_page: int) -> Page[AuditEvent]:
    """Records matching flt (without free text), newest first (by seq, the chain order)."""
    return paginate(_filtered(flt).order_by(AuditEvent.seq.desc()), page, per_page)


@dataclass(frozen=True)
class SearchPage:
    """Free-text matches, newest first; continue below next_before (None: nothing older is left)."""

    items: list[AuditEvent]
    per_page: int
    next_before: int | None
    scanned_from: int
    scanned_to: int

    @property
    def has_next(self) -> bool:
        """True when older records are left to search."""
        return self.next_before is not None


def search_events(flt: AuditFilter, per_page: int, *, before: int | None = None) -> SearchPage:
    """Free-text search walking the chain downwards in slices of SEARCH_SLICE records, within a time budget.

    Text inside JSON details cannot use an index, so a rare word would otherwise scan the whole table
    on every page view; the slices keep each request short and the page offers to search further back.
    """
    top = before if before is not None else (db.session.execute(select(func.max(AuditEvent.seq))).scalar() or 0) + 1
    query, upper = _filtered(flt), top
    found: list[AuditEvent] = []
    started = time.monotonic()
    while upper > 1 and len(found) < per_page:
        lower = max(1, upper - SEARCH_SLICE)
        need = per_page - len(found)
        rows = list(db.session.execute(
            query.where(AuditEvent.seq >= lower, AuditEvent.seq < upper).order_by(AuditEvent.seq.desc()).limit(need + 1)
        ).scalars())
        if len(rows) > need:
            found += rows[:need]
            return SearchPage(found, per_page, found[-1].seq, top - 1, found[-1].seq)
        found += rows
        upper = lower
        if time.monotonic() - started > SEARCH_BUDGET:
            break
    if len(found) == per_page and upper > 1:
        return SearchPage(found, per_page, found[-1].seq, top - 1, found[-1].seq)
    return SearchPage(found, per_page, upper if upper > 1 else None, top - 1, upper)


def _filtered(flt: AuditFilter) -> Select[Any]:
    query = select(AuditEvent)
    if flt.actor:
        query = query.where(AuditEvent.actor == flt.actor)
    if flt.action:
        if flt.action.endswith("*"):
            query = query.where(AuditEvent.action.startswith(flt.action.rstrip("*"), autoescape=True))
        else:
            query = query.where(AuditEvent.action == flt.action)
    if flt.target:
        query = query.where(AuditEvent.target == flt.target)
    if flt.since:
        query = query.where(AuditEvent.created_at >= flt.since)
    if flt.until:
        query = query.where(AuditEvent.created_at < flt.until)
    if flt.q:
        like = f"%{flt.q}%"
        query = query.where(or_(AuditEvent.actor.ilike(like), AuditEvent.action.ilike(like),
                                AuditEvent.target.ilike(like), cast(AuditEvent.details, Text).ilike(like)))
    return query


def get_event(event_id: int) -> AuditEvent | None:
    """One record, or None."""
    return db.session.get(AuditEvent, event_id)
