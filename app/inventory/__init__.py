"""The inventory (OPENCLAW_CONFIG): who may do what, on which hosts and services."""
from __future__ import annotations

from flask import Flask, current_app

from app.inventory.loader import load_inventory
from app.inventory.schema import Inventory, Role

__all__ = ["Inventory", "Role", "init_app", "get_inventory"]

EXTENSION = "openclaw.inventory"


def init_app(app: Flask, inventory: Inventory | None = None) -> None:
    """Load and validate the inventory once at start; ConfigError stops the process."""
    app.extensions[EXTENSION] = inventory or load_inventory(app.config["OPENCLAW_CONFIG"])


def get_inventory() -> Inventory:
    """The inventory of the current app."""
    inventory: Inventory = current_app.extensions[EXTENSION]
    return inventory
