"""The inventory (OPENCLAW_CONFIG): who may do what, on which hosts and services."""
from __future__ import annotations

from flask import Flask, current_app

from app.inventory.loader import load_inventory
from app.inventory.schema import Inventory, Role

__all__ = ["Inventory", "Role", "init_app", "get_inventory"]

EXTENSION = "openclaw.inventory"


def init_app(app: Flask, inventory: Inventory | None = None, *, lazy: bool = False) -> None:
    """Load and validate the inventory once at start; ConfigError stops the process.

    lazy (flask CLI commands): read it on first use instead, so commands that never
    touch it (db upgrade, audit verify, tokens) work without an inventory file.
    """
    app.extensions[EXTENSION] = inventory or (None if lazy else load_inventory(app.config["OPENCLAW_CONFIG"]))


def get_inventory() -> Inventory:
    """The inventory of the current app (read now when it was deferred)."""
    inventory: Inventory | None = current_app.extensions[EXTENSION]
    if inventory is None:
        inventory = current_app.extensions[EXTENSION] = load_inventory(current_app.config["OPENCLAW_CONFIG"])
    return inventory
