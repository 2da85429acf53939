"""/cancel ID: stop a queued, waiting or running execution (also the Cancel button on progress cards)."""
from __future__ import annotations

from app.automation import present, service as automation
from app.chat.args import Args, Param, positive_int
from app.chat.registry import card_action, command
from app.chat.types import CardAction, CardResponse, CommandContext, Reply, Role
from app.errors import UsageError


@command("cancel", mutating=True, usage="/cancel ID", role=Role.OPERATOR, params=(Param("id", convert=positive_int),))
def cancel(ctx: CommandContext, args: Args) -> Reply:
    """Stop an execution: a running one is killed on its hosts, a waiting one is withdrawn."""
    execution = automation.cancel(execution_id=args["id"], actor=ctx.open_id)
    return Reply.of_text(f"#{execution.id} {execution.target}: {execution.status}.")


@card_action("execution.cancel", role=Role.OPERATOR)
def cancel_button(ctx: CommandContext, action: CardAction) -> CardResponse:
    """The Cancel button on a progress card."""
    try:
        execution_id = int(action.value["execution_id"])
    except (KeyError, TypeError, ValueError):
        raise UsageError("this button has no execution id") from None
    execution = automation.cancel(execution_id=execution_id, actor=ctx.open_id)
    card = present.progress_card(execution, None)
    return CardResponse(toast=f"Cancelling #{execution.id}", toast_type="warning", card=card)
