"""/api/v1/audit: search the log; verify the chain."""
from __future__ import annotations

from typing import Any

from flask import jsonify

from app.audit import checks
from app.audit.models import AuditEvent
from app.inventory.schema import Role
from app.web.api import bp
from app.web.api.auth import current, requires
from app.web.api.common import iso, paged
from app.web.queries import audit as queries
from app.web.request_args import before_arg, page_and_size, parse_filter


def event_json(event: AuditEvent) -> dict[str, Any]:
    """An audit record, chain fields included."""
    return {"id": event.id, "seq": event.seq, "created_at": iso(event.created_at), "actor": event.actor,
            "action": event.action, "target": event.target, "chat_id": event.chat_id, "details": event.details,
            "prev_hash": event.prev_hash, "hash": event.hash}


@bp.get("/audit")
@requires(Role.AUDITOR)
def list_audit() -> Any:
    """Records, newest first; ?actor=&action= (or prefix*)&target=&since=&until=; with ?q= a search (see before)."""
    flt = parse_filter(queries.AuditFilter)
    number, per_page = page_and_size()
    if not flt.q:
        return paged(queries.list_events(flt, number, per_page), event_json)
    found = queries.search_events(flt, per_page, before=before_arg())
    return jsonify(items=[event_json(e) for e in found.items], page=1, per_page=per_page, has_next=found.has_next,
                   next_before=found.next_before)


@bp.post("/audit/verify")
@requires(Role.AUDITOR)
def verify_audit() -> Any:
    """Verify the whole chain now (the check itself is recorded)."""
    report = checks.verify_and_record(actor=current().actor)
    return jsonify(ok=report.ok, checked=report.checked, broken_seq=report.broken_seq, broken_id=report.broken_id,
                   reason=report.reason)
