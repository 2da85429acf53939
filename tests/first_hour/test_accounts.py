"""`users create --open-id` with an open_id someone already has: a plain refusal, not a traceback."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask


def test_an_open_id_held_by_an_inventory_user_is_refused_plainly(embedded_app: Flask) -> None:
    from app.users.service import sync_from_inventory

    sync_from_inventory()
    result = embedded_app.test_cli_runner().invoke(
        args=["users", "create", "bob", "--role", "operator", "--open-id", "ou_bob", "--password", "correct horse 1"])
    assert result.exit_code == 1
    assert "open_id ou_bob already belongs to Bob (inventory)" in result.output


def test_generated_secrets_are_long_private_and_made_once(tmp_path: Path) -> None:
    import stat

    from app.errors import ConfigError
    from app.local_defaults import generated_secret

    key, made = generated_secret(tmp_path / "instance" / "secret_key")
    assert made and len(key) >= 32
    assert stat.S_IMODE((tmp_path / "instance" / "secret_key").stat().st_mode) == 0o600
    assert generated_secret(tmp_path / "instance" / "secret_key") == (key, False)
    assert list((tmp_path / "instance").iterdir()) == [tmp_path / "instance" / "secret_key"]  # no temp files left
    (tmp_path / "short").write_text("changeme\n")
    with pytest.raises(ConfigError, match="shorter than 32 characters"):
        generated_secret(tmp_path / "short")
