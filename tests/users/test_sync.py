"""Seeding users from the inventory: idempotent, and safe when several workers start at once."""
from __future__ import annotations

import threading

from flask import Flask
from sqlalchemy import select

from app.infra.db import db
from app.inventory.schema import Role
from app.users.models import User
from app.users.service import sync_from_inventory


def test_a_second_sync_changes_nothing(app: Flask) -> None:
    assert sync_from_inventory() == 3
    assert sync_from_inventory() == 0
    roles = {u.open_id: u.role for u in db.session.execute(select(User)).scalars()}
    assert roles == {"ou_alice": Role.ADMIN, "ou_bob": Role.OPERATOR, "ou_carol": Role.AUDITOR}


def test_workers_starting_together_seed_each_user_once(app: Flask) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start_worker() -> None:
        with app.app_context():
            try:
                barrier.wait()
                sync_from_inventory()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=start_worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(db.session.execute(select(User.open_id)).scalars()) == ["ou_alice", "ou_bob", "ou_carol"]


def test_a_user_removed_from_the_inventory_falls_back_to_the_default_role(app: Flask) -> None:
    sync_from_inventory()
    db.session.add(User(open_id="ou_gone", name="Gone", role=Role.ADMIN, source="inventory"))
    db.session.commit()
    assert sync_from_inventory() == 1
    gone = db.session.execute(select(User).where(User.open_id == "ou_gone")).scalar_one()
    assert gone.role == Role.USER
