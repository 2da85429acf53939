"""Who is who: role lookup by open_id, and seeding users from the inventory."""
from __future__ import annotations

import logging

from sqlalchemy import case, select, update

from app.infra.db import db, utcnow
from app.inventory import get_inventory
from app.inventory.schema import Inventory, Role
from app.users.models import User, new_session_secret

logger = logging.getLogger(__name__)


def role_of(open_id: str) -> Role:
    """The inventory decides first, then accounts made locally, then default_role."""
    inventory = get_inventory()
    for entry in inventory.users:
        if entry.open_id == open_id:
            return entry.role
    user = db.session.execute(select(User).where(User.open_id == open_id)).scalar_one_or_none()
    if user is not None and user.source == "local":
        return Role(user.role)
    return inventory.default_role


def still_entitled(user: User) -> bool:
    """May this signed-in account keep its session? Checked on every request.

    Local accounts: yes while their row exists (the role is read from it each time).
    Inventory people: only while the inventory this process loaded still lists them with
    the role the row holds; removed or re-roled people sign in again (and are synced then).
    """
    if user.source != "inventory":
        return True
    for entry in get_inventory().users:
        if entry.open_id == user.open_id:
            return str(entry.role) == str(user.role)
    return False


def web_sender(user_id: int) -> tuple[str, Role] | None:
    """(actor, role) of the web account that typed a console message, read now; None when it may not act."""
    user = db.session.get(User, user_id)
    if user is None or not still_entitled(user):
        return None
    return user.actor, role_of(user.open_id) if user.open_id else Role(user.role)


def display_name(open_id: str) -> str:
    """The inventory's name for open_id, else the open_id itself."""
    for entry in get_inventory().users:
        if entry.open_id == open_id:
            return entry.name
    return open_id


def sync_from_inventory(inventory: Inventory | None = None) -> int:
    """Upsert inventory users into the users table; returns how many rows changed.

    Several workers run this as they start at the same moment, so each user is one
    INSERT ... ON CONFLICT (open_id) DO UPDATE that changes only what differs.
    """
    inventory = inventory or get_inventory()
    insert = _insert_for(db.engine.dialect.name)
    table = User.__table__
    now = utcnow()
    changed = 0
    for entry in inventory.users:
        statement = insert(table).values(
            open_id=entry.open_id, name=entry.name, role=str(entry.role), source="inventory",
            created_at=now, updated_at=now, session_secret=new_session_secret(),
        )
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.open_id],
            set_={"name": statement.excluded.name, "role": statement.excluded.role, "updated_at": now,
                  # a new role ends the person's browser sessions: they sign in again and get the new one
                  "session_secret": case((table.c.role != statement.excluded.role, statement.excluded.session_secret),
                                         else_=table.c.session_secret)},
            where=(table.c.name != statement.excluded.name) | (table.c.role != statement.excluded.role),
        ).returning(table.c.id)
        changed += len(db.session.execute(statement).all())  # a row back = inserted or changed
    listed = [entry.open_id for entry in inventory.users]
    stale = db.session.execute(  # removed from the inventory: fall back to default_role, sessions ended
        update(User)
        .where(User.source == "inventory", User.open_id.not_in(listed), User.role != str(inventory.default_role))
        .values(role=str(inventory.default_role), updated_at=now)
        .returning(User.id)
    ).scalars().all()
    for user_id in stale:  # one secret each (a shared value would let one account's cookie fit another's)
        db.session.execute(update(User).where(User.id == user_id).values(session_secret=new_session_secret()))
    changed += len(stale)
    db.session.commit()
    if changed:
        logger.info("users synced from inventory", extra={"changed": changed})
    return changed


def _insert_for(dialect: str):  # type: ignore[no-untyped-def]
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
