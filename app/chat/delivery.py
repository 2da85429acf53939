"""Deliver replies where the message came from: Feishu, or the local console."""
from __future__ import annotations

import logging

from app.chat.types import IncomingMessage, Reply
from app.infra.db import db

logger = logging.getLogger(__name__)


def deliver(message: IncomingMessage, replies: list[Reply]) -> None:
    """Send each reply back to the conversation message came from."""
    if not replies:
        return
    if message.source == "console":
        _to_console(message, replies)
    elif message.source == "menu":
        from app.feishu import menu

        menu.deliver(message, replies)
    else:
        _to_feishu(message, replies)


def _to_console(message: IncomingMessage, replies: list[Reply]) -> None:
    from sqlalchemy import select

    from app.inbox.models import ConsoleReply, InboundEvent

    event_pk = db.session.execute(
        select(InboundEvent.id).where(InboundEvent.event_id == message.event_id)
    ).scalar_one()
    for reply in replies:
        db.session.add(ConsoleReply(event_id=event_pk, text=reply.text, card=reply.card))
    db.session.commit()


def _to_feishu(message: IncomingMessage, replies: list[Reply]) -> None:
    from app.feishu.wiring import get_client

    client = get_client()
    for index, reply in enumerate(replies):
        # The uuid makes a retried delivery of the same event send nothing twice (Feishu keeps it 1 h).
        uuid = f"{message.message_id}-{index}"[:50]
        if reply.delivered:
            continue
        if reply.card is not None:
            client.reply_card(message.message_id, reply.card, uuid=uuid, chat_id=message.chat_id)
        elif reply.text:
            client.reply_text(message.message_id, reply.text, uuid=uuid, chat_id=message.chat_id)
    logger.info("replies delivered", extra={"event_id": message.event_id, "count": len(replies)})
