"""The inventory as loaded: hosts, services, deploy apps, runbooks and who is on call now."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import render_template

from app.alerts.oncall import on_call
from app.inventory import get_inventory
from app.inventory.schema import Role
from app.users.service import display_name
from app.web.admin import bp
from app.web.admin.auth import requires


@bp.route("/inventory")
@requires(Role.USER)
def inventory() -> str:
    """Everything OPENCLAW_CONFIG declares, read-only."""
    inv = get_inventory()
    now = datetime.now(UTC)
    shifts = [on_call(name, schedule, now) for name, schedule in sorted(inv.oncall.items())]
    return render_template("admin/inventory.html", inv=inv, shifts=shifts, display_name=display_name)
