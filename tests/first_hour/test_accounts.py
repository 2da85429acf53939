"""`users create --open-id` with an open_id someone already has: a plain refusal, not a traceback."""
from __future__ import annotations

from flask import Flask


def test_an_open_id_held_by_an_inventory_user_is_refused_plainly(embedded_app: Flask) -> None:
    from app.users.service import sync_from_inventory

    sync_from_inventory()
    result = embedded_app.test_cli_runner().invoke(
        args=["users", "create", "bob", "--role", "operator", "--open-id", "ou_bob", "--password", "correct horse 1"])
    assert result.exit_code == 1
    assert "open_id ou_bob already belongs to Bob (inventory)" in result.output
