"""/run <runbook> [name=value ...] [--host H]: a runbook from the inventory with its declared arguments."""
from __future__ import annotations

from app.automation import present, service as automation
from app.automation.models import ExecutionKind
from app.chat.args import Args, Param
from app.chat.registry import command
from app.chat.types import CommandContext, Reply, Role
from app.errors import UsageError

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"


def parse_runbook_args(text: str | None) -> tuple[dict[str, str], str | None]:
    """name=value words into a dict, and --host H pulled out; UsageError for anything else."""
    words = (text or "").split()
    values: dict[str, str] = {}
    host = None
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--host" and i + 1 < len(words):
            host, i = words[i + 1], i + 2
            continue
        if word.startswith("--host="):
            host, i = word.split("=", 1)[1], i + 1
            continue
        name, sep, value = word.partition("=")
        if not sep or not name:
            raise UsageError(f"runbook arguments are name=value, got {word!r}")
        if name in values:
            raise UsageError(f"argument {name} given twice")
        values[name] = value
        i += 1
    return values, host


# The runbook's own role is checked by the engine; operator is the floor for running anything.
@command("run", mutating=True, usage="/run <runbook> [name=value ...] [--host H]", role=Role.USER,
         params=(Param("runbook", pattern=NAME), Param("args", required=False, rest=True)))
def run(ctx: CommandContext, args: Args) -> Reply:
    """Run a runbook from the inventory (its role, hosts and arguments are declared there)."""
    values, host = parse_runbook_args(args.get("args"))
    execution = automation.request_run(
        kind=ExecutionKind.RUN, args={"runbook": args["runbook"], "args": values, "host": host},
        actor=ctx.open_id, role=ctx.role, chat_id=ctx.chat_id, request_key=ctx.message_id,
    )
    return Reply.of_text(present.queued_text(execution))
