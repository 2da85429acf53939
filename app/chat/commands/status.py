"""/status [host|service|tag]: health of hosts, from Prometheus when PROMETHEUS_URL is set, else over SSH."""
from __future__ import annotations

from app.automation import service as automation
from app.automation.cards import status_card
from app.automation.models import ExecutionKind
from app.automation.present import status_note, status_rows
from app.chat.args import Args, Param
from app.chat.registry import command
from app.chat.types import CommandContext, Reply, Role
from app.inventory import get_inventory

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"


@command("status", usage="/status [host|service|tag]", role=Role.USER, read_only=True,
         params=(Param("target", required=False, pattern=NAME),))
def status(ctx: CommandContext, args: Args) -> Reply:
    """Health of hosts: up, load, CPU, memory, disk; for a service also its unit state."""
    execution = automation.request_run(
        kind=ExecutionKind.STATUS, args={"selector": args.get("target")}, actor=ctx.open_id, role=ctx.role,
        chat_id=ctx.chat_id, inline=True,
    )
    card = status_card(execution.target, status_rows(execution), status_note(execution))
    target = args.get("target")
    if target and target in get_inventory().hosts:  # one host: add its last hour as a picture
        from app.alerts.graph import attach
        from app.automation.host_graph import image_key

        card = attach(card, image_key(target), alt=f"{target}: load, memory and disk over the last hour")
    return Reply.of_card(card)
