"""/help: the commands this sender may run."""
from __future__ import annotations

from app.chat.args import Args, Param
from app.chat.registry import command, commands, find, usage_of
from app.chat.types import CommandContext, Reply


@command("help", usage="/help [command]", read_only=True, params=(Param("command", required=False, rest=True),))
def help_(ctx: CommandContext, args: Args) -> Reply:
    """List the commands you may use, or show how to use one."""
    allowed = [spec for spec in commands() if ctx.role.at_least(spec.role)]
    wanted = args.get("command")
    if wanted:
        spec, _ = find(wanted.lstrip("/").split())
        if spec is None or spec not in allowed:
            return Reply.of_text(f"No command /{wanted.lstrip('/')} that you can use. Type /help for the list.")
        return Reply.of_text(f"/{spec.name}: {spec.summary}\n{usage_of(spec)}")
    lines = [f"Commands for you ({ctx.role.value}):"]
    lines += [f"{spec.usage} - {spec.summary}" for spec in allowed]
    lines.append("Anything else goes to the assistant.")
    return Reply.of_text("\n".join(lines))
