"""route(): an IncomingMessage becomes zero or more replies (commands or the assistant)."""
from __future__ import annotations

import logging

from app.chat import assistant
from app.chat.registry import dispatch
from app.chat.types import CommandContext, IncomingMessage, Reply
from app.users.service import role_of

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
        return [dispatch(ctx, text)]
    return [assistant.answer(ctx, text)]
