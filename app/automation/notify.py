"""Keep an execution's one progress card current in its chat, through the outbox (failures never stop a run)."""
from __future__ import annotations

import logging
from app.automation import present
from app.automation.models import Execution
from app.automation.plans import Plan
from app.outbox import service as outbox

logger = logging.getLogger(__name__)

# Chats of the local console channel have no Feishu message to update.
_NO_FEISHU = ("console",)


def push_progress(execution: Execution, plan: Plan | None) -> None:
    """PATCH the execution's card, or post it first when it has none yet."""
    if not execution.chat_id or execution.chat_id in _NO_FEISHU:
        return
    card = present.progress_card(execution, plan)
    try:
        if execution.card_message_id:
            item = outbox.update_card(execution.card_message_id, card, key=f"exec-{execution.id}-update")
        else:  # one card per execution: a stable key, and its message id is remembered once it is sent
            item = outbox.send(execution.chat_id, card=card, key=f"exec-{execution.id}-card",
                               on_sent={"execution_card": execution.id})
        outbox.post(item, latest=True)
    except Exception:  # noqa: BLE001 - a card that cannot be updated must not stop the run
        logger.warning("could not update the progress card", exc_info=True,
                       extra={"execution_id": execution.id, "message_id": execution.card_message_id})
