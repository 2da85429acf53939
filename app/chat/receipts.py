"""Command receipts: the database's unique key on the message id lets a mutating command run once."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from app.inbox.models import CommandReceipt
from app.infra.db import db, utcnow


def take(key: str, command: str, open_id: str) -> bool:
    """Record that the message `key` runs `command`; False when that message already ran a command."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(CommandReceipt).values(
        key=key[:160], command=command, open_id=open_id, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["key"]).returning(CommandReceipt.id)
    taken = db.session.execute(statement).scalar_one_or_none()
    db.session.commit()
    return taken is not None


def already_handled(key: str, command: str) -> str:
    """The answer for a message whose command already ran: what it started, if anything."""
    from app.automation.models import Execution

    execution = db.session.execute(select(Execution).where(Execution.request_key == key)).scalar_one_or_none()
    if execution is not None:
        return f"This message was already handled: #{execution.id} {execution.target} is {execution.status}."
    return f"This message was already handled (/{command}); it is not run again."
