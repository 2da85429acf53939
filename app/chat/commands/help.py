"""/help: the commands this sender may run, sub-commands included."""
from __future__ import annotations

from app.chat.args import Args, Param
from app.chat.registry import CommandSpec, command, commands, find, group_usage, subcommands, usage_of
from app.chat.types import CommandContext, Reply


def _line(spec: CommandSpec, ctx: CommandContext) -> str | None:
    """One /help line; a group (`/incident`) lists only the sub-commands the sender may run."""
    if subcommands(spec.name):
        usage = group_usage(spec.name, ctx.role)
        return f"{usage} - {spec.summary}" if usage else None
    return f"{spec.usage} - {spec.summary}"


@command("help", usage="/help [command]", read_only=True, params=(Param("command", required=False, rest=True),))
def help_(ctx: CommandContext, args: Args) -> Reply:
    """List the commands you may use, or show how to use one."""
    allowed = [spec for spec in commands() if ctx.role.at_least(spec.role)]
    wanted = args.get("command")
    if wanted:
        spec, _ = find(wanted.lstrip("/").split())
        if spec is None or spec not in allowed or _line(spec, ctx) is None:
            return Reply.of_text(f"No command /{wanted.lstrip('/')} that you can use. Type /help for the list.")
        subs = subcommands(spec.name, ctx.role)
        if subs:
            lines = [f"/{spec.name}: {spec.summary}"] + [f"{sub.usage} - {sub.summary}" for sub in subs]
            return Reply.of_text("\n".join(lines))
        return Reply.of_text(f"/{spec.name}: {spec.summary}\n{usage_of(spec)}")
    lines = [f"Commands for you ({ctx.role.value}):"]
    lines += [line for spec in allowed if (line := _line(spec, ctx)) is not None]
    lines.append("Anything else goes to the assistant.")
    return Reply.of_text("\n".join(lines))
