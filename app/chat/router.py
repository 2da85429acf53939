"""route(): an IncomingMessage becomes zero or more replies (commands or the assistant)."""
from __future__ import annotations

import logging
from dataclasses import replace

from app.chat import assistant
from app.chat.registry import dispatch, is_read_only
from app.chat.types import CommandContext, IncomingMessage, Reply
from app.users.service import role_of, web_sender

logger = logging.getLogger(__name__)


def context_for(message: IncomingMessage) -> CommandContext:
    """Who is asking and with which role."""
    return CommandContext(
        open_id=message.open_id, role=role_of(message.open_id), chat_id=message.chat_id,
        chat_type=message.chat_type, message_id=message.message_id, event_id=message.event_id,
        source=message.source,
    )


def route(message: IncomingMessage) -> list[Reply]:
    """Commands go to dispatch(), other text to the assistant; group chatter without a mention is ignored."""
    if not message.addressed_to_bot:
        return []
    text = message.text.strip()
    if not text:
        return []
    ctx = context_for(message)
    logger.info(
        "routing message",
        extra={"event_id": message.event_id, "open_id": message.open_id, "chat_id": message.chat_id,
               "is_command": text.startswith("/")},
    )
    if text.startswith("/"):
        if message.sent_by_user is not None and not is_read_only(text):
            # Typed in the admin console "as" someone: only read-only commands borrow that identity;
            # anything that changes something is the signed-in person's own act (two-person rule).
            sender = web_sender(message.sent_by_user)
            if sender is None:
                return [Reply.of_text("Refused: the account that sent this from the console can no longer act.")]
            ctx = replace(ctx, open_id=sender[0], role=sender[1])
        return [dispatch(ctx, text)]
    return [assistant.answer(ctx, text)]
