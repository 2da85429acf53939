"""/deploy <app> <env> [version]: the app's pipeline; approval cards for environments that need them."""
from __future__ import annotations

from app.automation import present, service as automation
from app.automation.models import ExecutionKind, ExecutionStatus
from app.automation.plans import VERSION_PATTERN
from app.chat.args import Args, Param
from app.chat.registry import card_action, command
from app.chat.types import CardAction, CardResponse, CommandContext, Reply, Role
from app.errors import UsageError

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"


@command("deploy", mutating=True, usage="/deploy <app> <env> [version]", role=Role.OPERATOR,
         params=(Param("app", pattern=NAME), Param("env", pattern=NAME),
                 Param("version", required=False, pattern=VERSION_PATTERN)))
def deploy(ctx: CommandContext, args: Args) -> Reply:
    """Run an app's deploy pipeline on an environment (some environments need a second person's approval)."""
    execution = automation.request_run(
        kind=ExecutionKind.DEPLOY, args={"app": args["app"], "env": args["env"], "version": args.get("version")},
        actor=ctx.open_id, role=ctx.role, chat_id=ctx.chat_id, request_key=ctx.message_id,
    )
    if execution.status is ExecutionStatus.AWAITING_APPROVAL:
        card = present.approval_card(execution, automation.plan_of(execution))
        # Delivered through the outbox like any reply; once sent, its message id is kept so expiry can repaint it.
        return Reply(card=card, on_sent={"execution_card": execution.id})
    return Reply.of_text(present.queued_text(execution))


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
    if execution.queue_unreachable:
        return CardResponse(toast=f"Approved #{execution.id}; it will start when the job queue is back.",
                            toast_type="warning", card=card)
    return CardResponse(toast=f"Approved #{execution.id}", toast_type="success", card=card)


@card_action("deploy.reject", role=Role.OPERATOR)
def reject(ctx: CommandContext, action: CardAction) -> CardResponse:
    """Reject a waiting deploy."""
    execution = automation.reject(execution_id=_execution_id(action), approver=ctx.open_id, role=ctx.role,
                                  message_id=action.message_id)
    card = present.progress_card(execution, automation.plan_of(execution))
    return CardResponse(toast=f"Rejected #{execution.id}", toast_type="info", card=card)
