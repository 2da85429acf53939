"""/pause [reason] and /resume: the global kill switch for mutating actions (admins only)."""
from __future__ import annotations

from app.automation import service as automation
from app.chat.args import Args, Param
from app.chat.registry import command
from app.chat.types import CommandContext, Reply, Role


@command("pause", mutating=True, usage="/pause [reason]", role=Role.ADMIN, params=(Param("reason", required=False, rest=True),))
def pause(ctx: CommandContext, args: Args) -> Reply:
    """Refuse every restart, deploy and runbook until /resume."""
    automation.pause(actor=ctx.open_id, reason=args.get("reason"))
    return Reply.of_text("Automation paused: restarts, deploys and runbooks are refused until /resume.")


@command("resume", mutating=True, usage="/resume", role=Role.ADMIN)
def resume(ctx: CommandContext, args: Args) -> Reply:
    """Allow restarts, deploys and runbooks again."""
    automation.resume(actor=ctx.open_id)
    return Reply.of_text("Automation resumed.")
