"""/restart <service> [--host H]: systemctl restart, then check the unit is active."""
from __future__ import annotations

from app.automation import present, service as automation
from app.automation.models import ExecutionKind
from app.chat.args import Args, Param
from app.chat.registry import command
from app.chat.types import CommandContext, Reply, Role

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"


@command("restart", mutating=True, usage="/restart <service> [--host H]", role=Role.OPERATOR,
         params=(Param("service", pattern=NAME),), options=(Param("host", required=False, pattern=NAME),))
def restart(ctx: CommandContext, args: Args) -> Reply:
    """Restart a service's systemd unit on its hosts, then check it is active."""
    execution = automation.request_run(
        kind=ExecutionKind.RESTART, args={"service": args["service"], "host": args.get("host")},
        actor=ctx.open_id, role=ctx.role, chat_id=ctx.chat_id, inline=True,
        request_key=ctx.message_id,
    )
    return Reply.of_card(present.progress_card(execution, automation.plan_of(execution)))
