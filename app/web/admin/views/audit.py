"""The audit log: search and filter, and the chain's verification shown plainly."""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for

from app.audit import checks
from app.inventory.schema import Role
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.admin.forms import ActionForm
from app.web.admin.views.common import actor
from app.web.queries import audit as queries
from app.web.request_args import before_arg, page_and_size, parse_filter


@bp.route("/audit")
@requires(Role.AUDITOR)
def audit() -> str:
    """Audit records, newest first, with the last chain check."""
    flt = parse_filter(queries.AuditFilter)
    number, per_page = page_and_size()
    if flt.q:
        page: Any = queries.search_events(flt, per_page, before=before_arg())
    else:
        page = queries.list_events(flt, number, per_page)
    return render_template("admin/audit.html", page=page, flt=flt, check=checks.last_check(), form=ActionForm())


@bp.route("/audit/verify", methods=["POST"])
@requires(Role.AUDITOR)
def audit_verify() -> Any:
    """Verify the whole chain now and show the outcome."""
    report = checks.verify_and_record(actor=actor())
    if report.ok:
        flash(f"Audit chain intact: {report.checked} records verified.", "success")
    else:
        flash(f"Audit chain BROKEN at record #{report.broken_seq}: {report.reason}.", "error")
    return redirect(url_for("admin.audit"))
