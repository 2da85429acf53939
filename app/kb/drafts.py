"""`/kb add TITLE` then text: the pending title waits here for the sender's next message.

In Redis when there is one, else in the database: every `flask chat` is a process of
its own, so a title kept in process memory would be gone by the next message.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from app.infra.db import db, utcnow
from app.infra.redis import get_redis
from app.kb.models import Draft

_PREFIX = "openclaw:kb:draft:"
TTL = 600


def _key(chat_id: str, open_id: str) -> str:
    return f"{chat_id}:{open_id}"


def start(*, chat_id: str, open_id: str, title: str) -> None:
    """Remember that the sender's next message in this chat is the body of an article titled title."""
    redis = get_redis()
    if redis is not None:
        redis.set(_PREFIX + _key(chat_id, open_id), title.encode(), ex=TTL)
        return
    db.session.execute(delete(Draft).where(Draft.chat_id == chat_id, Draft.open_id == open_id))
    db.session.add(Draft(chat_id=chat_id, open_id=open_id, title=title,
                         expires_at=utcnow() + timedelta(seconds=TTL)))
    db.session.commit()


def take(*, chat_id: str, open_id: str) -> str | None:
    """The pending title, removed (None when there is none or it expired)."""
    redis = get_redis()
    if redis is not None:
        raw = redis.getdel(_PREFIX + _key(chat_id, open_id))
        return raw.decode() if raw else None
    row = db.session.execute(
        select(Draft.id, Draft.title, Draft.expires_at).where(Draft.chat_id == chat_id, Draft.open_id == open_id)
    ).first()
    if row is None:
        return None
    taken = db.session.execute(delete(Draft).where(Draft.id == row.id)).rowcount  # type: ignore[attr-defined]
    db.session.commit()
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=utcnow().tzinfo)
    return row.title if taken and expires > utcnow() else None
