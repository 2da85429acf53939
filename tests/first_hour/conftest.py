"""An embedded-mode app (SQLite, no Redis, in-process jobs), as scripts/run.sh runs it."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.infra.db import db
from tests.conftest import base_environ


@pytest.fixture
def embedded_app(tmp_path: Path) -> Iterator[Flask]:
    """Migrated like scripts/run.sh does; an app context is pushed."""
    from flask_migrate import upgrade

    application = create_app(base_environ(f"sqlite:///{tmp_path}/openclaw.db", REDIS_URL="", SECRET_KEY=""))
    assert application.config["EMBEDDED"] is True
    with application.app_context():
        upgrade()
        yield application
        db.session.remove()
        db.engine.dispose()


def console(application: Flask, *args: str) -> Any:
    """`flask chat ARGS` as the command runs it."""
    return application.test_cli_runner().invoke(args=["chat", "--timeout", "20", *args])
