"""/oncall: who is on call now and next, per schedule."""
from __future__ import annotations

from app import localtime
from app.alerts.oncall import on_call
from app.chat.args import Args, Param
from app.chat.registry import command
from app.chat.types import CommandContext, Reply
from app.infra.db import utcnow
from app.inventory import get_inventory
from app.users.service import display_name


@command("oncall", usage="/oncall [schedule]", read_only=True, params=(Param("schedule", required=False),))
def oncall(ctx: CommandContext, args: Args) -> Reply:
    """Who is on call now and who is next."""
    schedules = get_inventory().oncall
    wanted = args.get("schedule")
    if wanted and wanted not in schedules:
        known = ", ".join(sorted(schedules)) or "none configured"
        return Reply.of_text(f"No on-call schedule {wanted!r} (known: {known}).")
    if not schedules:
        return Reply.of_text("No on-call schedules are configured.")
    now = utcnow()
    lines = []
    for name in [wanted] if wanted else sorted(schedules):
        current = on_call(name, schedules[name], now)
        lines.append(f"{name}: now {display_name(current.now)}, next {display_name(current.next)}"
                     f" from {localtime.fmt(current.shift_ends)} ({schedules[name].rotation})")
    return Reply.of_text("\n".join(lines))
