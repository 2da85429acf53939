"""Embedded mode: the same migrations and the same search on SQLite, Chinese and English."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.infra.db import db
from app.kb import service as kb
from tests.conftest import base_environ


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    """An embedded-mode app (SQLite file, no Redis), migrated to head."""
    from flask_migrate import upgrade

    app = create_app(base_environ(f"sqlite:///{tmp_path}/kb.db", REDIS_URL=""))
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_search_on_sqlite_finds_chinese_and_english(sqlite_app: Flask) -> None:
    disk = kb.add_article(title="磁盘空间满了怎么处理", body="用 df -h 找到满的分区，清理旧日志。", author="ou_bob")
    tls = kb.add_article(title="TLS certificate about to expire", body="Renew with certbot renew.", author="ou_bob")
    kb.add_article(title="Redis memory", body="redis-cli info memory", author="ou_bob")
    assert kb.search("磁盘满了", limit=1)[0].article_id == disk.id
    assert kb.search("certificate expires soon", limit=1)[0].article_id == tls.id
    updated = kb.update_article(article_id=tls.id, body="Use the ACME client; 证书续期。", author="ou_alice")
    assert updated.version == 2 and kb.search("证书续期", limit=1)[0].article_id == tls.id
    assert kb.search("certbot", limit=3) == []  # the old version is no longer indexed
