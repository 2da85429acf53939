"""What a handled message owes its chat: replies staged with the event's outcome, or an interruption notice."""
from __future__ import annotations

from sqlalchemy import select

from app.chat.types import IncomingMessage, Reply
from app.inbox.models import CommandReceipt, ConsoleReply
from app.infra.db import db
from app.outbox import service as outbox


def reply_key(message: IncomingMessage, index: int) -> str:
    """The Feishu uuid of reply number index to message (the same on every retry)."""
    return f"{message.message_id}-{index}"[:50]


def stage(message: IncomingMessage, replies: list[Reply], *, event_pk: int) -> list[int]:
    """Add the replies to the current transaction; the outbox ids to deliver (none for the console)."""
    ids: list[int] = []
    for index, reply in enumerate(replies):
        if reply.delivered:  # its producer sent it already (the assistant's streamed card)
            continue
        if message.source == "console":
            db.session.add(ConsoleReply(event_id=event_pk, text=reply.text, card=reply.card))
            continue
        if reply.text is None and reply.card is None:
            continue
        if message.source == "menu":  # a bot-menu click: the answer goes to the clicking person's direct chat
            item = outbox.send(message.open_id, receive_id_type="open_id", key=reply_key(message, index),
                               text=reply.text, card=reply.card, on_sent=reply.on_sent)
        else:
            item = outbox.reply(message.message_id, key=reply_key(message, index), text=reply.text,
                                card=reply.card, chat_id=message.chat_id, on_sent=reply.on_sent)
        if reply.update_of:  # the producer's card exists; its final content is owed as an update
            item = outbox.update_card(reply.update_of, reply.card or {}, key=f"{reply_key(message, index)}-u")
        outbox_id = outbox.stage(item, event_pk=event_pk)
        if outbox_id is not None:
            ids.append(outbox_id)
    return ids


def interruption_notice(message: IncomingMessage) -> str:
    """What is known about a message whose handling stopped mid-way (it is never handled again)."""
    from app.automation.models import Execution

    quoted = message.text.strip()
    quoted = quoted if len(quoted) <= 80 else quoted[:79] + "…"
    head = f"Handling of your message “{quoted}” was interrupted; it will not be run again."
    execution = db.session.execute(
        select(Execution).where(Execution.request_key == message.message_id)
    ).scalar_one_or_none()
    if execution is not None:
        return f"{head} It had started #{execution.id} {execution.target}, which is now {execution.status}."
    receipt = db.session.execute(
        select(CommandReceipt).where(CommandReceipt.key == message.message_id)
    ).scalar_one_or_none()
    if receipt is not None:
        return f"{head} /{receipt.command} had begun: check its result before you repeat it."
    return f"{head} Nothing is known to have run; send it again if you still need it."
