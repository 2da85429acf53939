"""Keep an execution's one progress card current in its chat (best effort: failures are logged, never raised)."""
from __future__ import annotations

import logging
from typing import Any

from app.automation import present, service
from app.automation.models import Execution
from app.automation.plans import Plan

logger = logging.getLogger(__name__)

# Chats of the local console channel have no Feishu message to update.
_NO_FEISHU = ("console",)


def post_approval_card(execution: Execution, card: dict[str, Any], *, reply_to: str) -> bool:
    """Reply with the approval card ourselves and keep its message id, so expiry can repaint it.

    The uuid is the one delivery would use for this reply, so a retried event cannot post twice.
    False when Feishu cannot be reached; the caller then lets normal delivery (and its retries) send it.
    """
    try:
        from app.feishu.wiring import get_client

        message_id = get_client().reply_card(reply_to, card, uuid=f"{reply_to}-0"[:50], chat_id=execution.chat_id)
    except Exception:  # noqa: BLE001 - normal delivery takes over
        logger.warning("could not post the approval card", exc_info=True, extra={"execution_id": execution.id})
        return False
    service.set_card_message(execution.id, message_id)
    return True


def push_progress(execution: Execution, plan: Plan | None) -> None:
    """PATCH the execution's card, or post it first when it has none yet."""
    if not execution.chat_id or execution.chat_id in _NO_FEISHU:
        return
    card = present.progress_card(execution, plan)
    try:
        from app.feishu.wiring import get_client

        client = get_client()
        if execution.card_message_id:
            client.update_card(execution.card_message_id, card)
        else:
            message_id = client.send_card(execution.chat_id, card)
            service.set_card_message(execution.id, message_id)
    except Exception:  # noqa: BLE001 - a card that cannot be updated must not stop the run
        logger.warning("could not update the progress card", exc_info=True,
                       extra={"execution_id": execution.id, "message_id": execution.card_message_id})
