"""say(): send text through the router as a person, the way the worker does, and return the replies."""
from __future__ import annotations

import uuid

from app.chat import router
from app.chat.types import IncomingMessage, Reply


def say(text: str, *, open_id: str = "ou_dave", chat_id: str = "oc_chat", chat_type: str = "p2p",
        source: str = "console") -> list[Reply]:
    """Route text as open_id (ou_alice admin, ou_bob operator, others user); the replies."""
    event_id = f"test-{uuid.uuid4().hex}"
    message = IncomingMessage(event_id=event_id, message_id=f"om_{uuid.uuid4().hex[:16]}", chat_id=chat_id,
                              chat_type=chat_type, open_id=open_id, text=text, mentioned_bot=True, source=source)
    return router.route(message)


def say_text(text: str, **kwargs: str) -> str:
    """The text of the single reply to text."""
    replies = say(text, **kwargs)
    assert len(replies) == 1, replies
    return replies[0].text or ""
