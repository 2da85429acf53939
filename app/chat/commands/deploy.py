"""/deploy <app> <env> [version]: the app's pipeline; approval cards for environments that need them."""
from __future__ import annotations

from app.automation import notify, present, service as automation
from app.automation.models import ExecutionKind, ExecutionStatus
from app.automation.plans import VERSION_PATTERN
from app.chat.args import Args, Param
from app.chat.registry import card_action, command
from app.chat.types import CardAction, CardResponse, CommandContext, Reply, Role
from app.errors import UsageError

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"


@command("deploy", usage="/deploy <app> <env> [version]", role=Role.OPERATOR,
         params=(Param("app", pattern=NAME), Param("env", pattern=NAME),
                 Param("version", required=False, pattern=VERSION_PATTERN)))
def deploy(ctx: CommandContext, args: Args) -> Reply:
    """Run an app's deploy pipeline on an environment (some environments need a second person's approval)."""
    execution = automation.request_run(
        kind=ExecutionKind.DEPLOY, args={"app": args["app"], "env": args["env"], "version": args.get("version")},
        actor=ctx.open_id, role=ctx.role, chat_id=ctx.chat_id,
    )
    if execution.status is ExecutionStatus.AWAITING_APPROVAL:
        card = present.approval_card(execution, automation.plan_of(execution))
        posted = ctx.source == "feishu" and ctx.message_id is not None and notify.post_approval_card(
            execution, card, reply_to=ctx.message_id)
        return Reply(card=card, delivered=posted)
    return Reply.of_text(f"#{execution.id} {execution.target} queued; a progress card follows. /cancel {execution.id} stops it.")


def _execution_id(action: CardAction) -> int:
    try:
        return int(action.value["execution_id"])
    except (KeyError, TypeError, ValueError):
        raise UsageError("this button has no execution id") from None


@card_action("deploy.approve", role=Role.OPERATOR)
def approve(ctx: CommandContext, action: CardAction) -> CardResponse:
    """Approve a waiting deploy: queued at once; the card becomes its progress card."""
    execution = automation.approve(execution_id=_execution_id(action), approver=ctx.open_id, role=ctx.role,
                                   message_id=action.message_id)
    card = present.progress_card(execution, automation.plan_of(execution))
    return CardResponse(toast=f"Approved #{execution.id}", toast_type="success", card=card)


@card_action("deploy.reject", role=Role.OPERATOR)
def reject(ctx: CommandContext, action: CardAction) -> CardResponse:
    """Reject a waiting deploy."""
    execution = automation.reject(execution_id=_execution_id(action), approver=ctx.open_id, role=ctx.role,
                                  message_id=action.message_id)
    card = present.progress_card(execution, automation.plan_of(execution))
    return CardResponse(toast=f"Rejected #{execution.id}", toast_type="info", card=card)
