"""The console channel: text sent as someone through the same inbox and router as Feishu, replies kept in rows."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from app.audit import service as audit
from app.errors import UsageError
from app.inbox import service as inbox
from app.inbox.tasks import hand_off
from app.inbox.models import ConsoleReply, EventStatus, InboundEvent
from app.infra.db import db

logger = logging.getLogger(__name__)

FINISHED = (EventStatus.DONE, EventStatus.IGNORED, EventStatus.FAILED, EventStatus.DEAD, EventStatus.INTERRUPTED)
MAX_TEXT = 4000


@dataclass(frozen=True)
class Conversation:
    """One console message: its event, processing status and the replies so far."""

    event: InboundEvent
    replies: list[ConsoleReply]

    @property
    def finished(self) -> bool:
        """True once processing settled (replied, ignored or failed)."""
        return self.event.status in FINISHED


def send(*, open_id: str, text: str, actor: str, sender_id: int, chat_id: str = "console") -> int:
    """Record text for open_id as a console event typed by the web account sender_id; audited as actor.

    Read-only commands and questions run as open_id (a preview of what they see); every other
    command runs as the sender, so approvals see the real person (router.route decides).
    """
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise UsageError(f"say something (at most {MAX_TEXT} characters)")
    return submit(open_id=open_id, text=text, chat_id=chat_id, sent_by=actor, sender_id=sender_id, audit_as=actor)


def submit(*, open_id: str, text: str, chat_id: str = "console", sent_by: str | None = None,
           sender_id: int | None = None, audit_as: str | None = None) -> int:
    """Record text as a console event from open_id and hand it to a worker (the CLI and the admin page)."""
    payload: dict[str, object] = {"open_id": open_id, "text": text, "chat_id": chat_id, "chat_type": "p2p"}
    if sent_by:
        payload["sent_by"] = sent_by
    if sender_id is not None:
        payload["sent_by_user"] = sender_id
    event_pk = inbox.record(
        event_id=f"console-{uuid.uuid4().hex}", event_type="im.message.receive_v1", source="console",
        payload=payload,
    )
    assert event_pk is not None  # a fresh uuid cannot collide
    if audit_as:  # the admin page audits who spoke as whom; the CLI's command is audited by dispatch
        audit.record(actor=audit_as, action="console.send", target=f"event:{event_pk}", chat_id=chat_id,
                     details={"as": open_id, "text": text[:500]})
    try:
        hand_off(event_pk)
    except Exception as exc:  # noqa: BLE001 - recorded: the sweep hands it to a worker once the queue is back
        logger.warning("could not queue a console message; the sweep will", extra={"event_pk": event_pk,
                                                                                   "error": type(exc).__name__})
    return event_pk


def conversation(event_pk: int) -> Conversation | None:
    """The console event and its replies, read fresh; None when it is not a console event."""
    event = db.session.get(InboundEvent, event_pk, populate_existing=True)
    if event is None or event.source != "console":
        return None
    replies = db.session.execute(
        select(ConsoleReply).where(ConsoleReply.event_id == event_pk).order_by(ConsoleReply.id)
    ).scalars().all()
    return Conversation(event, list(replies))
