"""Who may do what: role rules per kind and environment, approval rules, and the kill switch."""
from __future__ import annotations

from typing import Any

from app.automation.errors import AutomationPaused, PolicyDenied
from app.automation.models import MUTATING, AutomationSetting, Execution, ExecutionKind
from app.automation.plans import Plan
from app.infra.db import db, utcnow
from app.inventory.schema import Role

PAUSED = "paused"
APPROVER_ROLE = Role.OPERATOR


def is_mutating(kind: ExecutionKind | str) -> bool:
    """restart, deploy and run change hosts; status and logs only read."""
    return ExecutionKind(kind) in MUTATING


def pause_state() -> dict[str, Any] | None:
    """The kill switch row's value when automation is paused, else None (read fresh from the database)."""
    row = db.session.get(AutomationSetting, PAUSED, populate_existing=True)
    if row is None or not row.value.get("paused"):
        return None
    return dict(row.value)


def set_paused(paused: bool, *, actor: str, reason: str | None = None) -> None:
    """Write the kill switch (the caller commits and audits)."""
    row = db.session.get(AutomationSetting, PAUSED)
    value = {"paused": paused, "by": actor, "reason": reason, "at": utcnow().isoformat()}
    if row is None:
        db.session.add(AutomationSetting(name=PAUSED, value=value, updated_by=actor, updated_at=utcnow()))
    else:
        row.value, row.updated_by, row.updated_at = value, actor, utcnow()


def check_not_paused(kind: ExecutionKind | str) -> None:
    """AutomationPaused for a mutating kind while the kill switch is on."""
    if not is_mutating(kind):
        return
    state = pause_state()
    if state is not None:
        who = state.get("by") or "an admin"
        why = f" ({state['reason']})" if state.get("reason") else ""
        raise AutomationPaused(
            "automation is paused",
            user_message=f"Refused: automation is paused by {who}{why}; an admin can /resume.",
        )


def check_request(plan: Plan, role: Role) -> None:
    """PolicyDenied when role is below what the plan (kind, environment or runbook) needs."""
    if not role.at_least(plan.role):
        raise PolicyDenied(
            f"role {role.value} below {plan.role.value} for {plan.target}",
            user_message=f"Refused: {plan.target} needs the {plan.role.value} role; you have {role.value}.",
        )


def check_approver(execution: Execution, plan: Plan, approver: str, role: Role) -> None:
    """PolicyDenied for self-approval, a role too low, or someone not on the environment's approvers."""
    if approver == execution.requested_by:
        raise PolicyDenied("self-approval", user_message="Refused: you cannot approve your own request.")
    needed = max(APPROVER_ROLE, plan.role, key=lambda r: r.rank)
    if not role.at_least(needed):
        raise PolicyDenied(
            "approver role too low",
            user_message=f"Refused: approving needs the {needed.value} role; you have {role.value}.",
        )
    if plan.approvers and approver not in plan.approvers:
        raise PolicyDenied("not an approver", user_message="Refused: you are not an approver for this environment.")
