"""Knowledge-base fixtures: an app on PostgreSQL with the shipped articles imported on demand."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.infra.db import db

KB_DIR = Path(__file__).resolve().parents[1] / "data" / "kb"


@pytest.fixture
def kb_app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """The app on PostgreSQL + Redis with an app context pushed (no Feishu, no model)."""
    application = make_app()
    with application.app_context():
        yield application
        db.session.remove()


@pytest.fixture
def imported(kb_app: Flask) -> dict[str, int]:
    """The shipped articles imported; article id by path (en/disk-full.md ...)."""
    from sqlalchemy import select

    from app.kb.models import Article
    from app.kb.service import import_dir

    import_dir(KB_DIR, author="test")
    return dict(db.session.execute(select(Article.source_path, Article.id)).all())
