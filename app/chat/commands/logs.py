"""/logs <service> [lines] [--host H] [--since 1h] [--grep TEXT]: recent log lines, secrets redacted."""
from __future__ import annotations

from app.automation import service as automation
from app.automation.models import ExecutionKind
from app.automation.present import logs_text
from app.chat.args import Args, Param, positive_int
from app.chat.registry import command
from app.chat.types import CommandContext, Reply, Role

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"


@command(
    "logs", usage="/logs <service> [lines] [--host H] [--since 1h] [--grep TEXT]", role=Role.OPERATOR, read_only=True,
    params=(Param("service", pattern=NAME), Param("lines", required=False, convert=positive_int)),
    options=(Param("host", required=False, pattern=NAME), Param("since", required=False, pattern=r"[0-9smhdw]{1,12}"),
             Param("grep", required=False)),
)
def logs(ctx: CommandContext, args: Args) -> Reply:
    """Recent log lines of a service (journal or file); grep is literal; secrets are redacted."""
    execution = automation.request_run(
        kind=ExecutionKind.LOGS,
        args={"service": args["service"], "lines": args.get("lines"), "host": args.get("host"),
              "since": args.get("since"), "grep": args.get("grep")},
        actor=ctx.open_id, role=ctx.role, chat_id=ctx.chat_id, inline=True,
    )
    return Reply.of_text(logs_text(execution))
