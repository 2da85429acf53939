"""Who is who: role lookup by open_id, and seeding users from the inventory."""
from __future__ import annotations

import logging

from sqlalchemy import select

from app.infra.db import db
from app.inventory import get_inventory
from app.inventory.schema import Inventory, Role
from app.users.models import User

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


def display_name(open_id: str) -> str:
    """The inventory's name for open_id, else the open_id itself."""
    for entry in get_inventory().users:
        if entry.open_id == open_id:
            return entry.name
    return open_id


def sync_from_inventory(inventory: Inventory | None = None) -> int:
    """Upsert inventory users into the users table; returns how many rows changed."""
    inventory = inventory or get_inventory()
    existing = {
        u.open_id: u for u in db.session.execute(select(User).where(User.source == "inventory")).scalars()
    }
    changed = 0
    for entry in inventory.users:
        user = existing.pop(entry.open_id, None)
        if user is None:
            db.session.add(User(open_id=entry.open_id, name=entry.name, role=entry.role, source="inventory"))
            changed += 1
        elif (user.name, user.role) != (entry.name, entry.role):
            user.name, user.role = entry.name, entry.role
            changed += 1
    for stale in existing.values():  # removed from the inventory: fall back to default_role
        if stale.role != inventory.default_role:
            stale.role = inventory.default_role
            changed += 1
    db.session.commit()
    if changed:
        logger.info("users synced from inventory", extra={"changed": changed})
    return changed
