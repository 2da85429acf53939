"""Knowledge base on PostgreSQL: import, versions, Chinese and English search, chat commands."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.infra.db import db
from app.kb import service as kb
from tests.ai.chat_helpers import say_text
from tests.kb.conftest import KB_DIR


def _top(query: str, n: int = 3) -> list[int]:
    return [hit.article_id for hit in kb.search(query, limit=n)]


def test_import_reads_title_body_and_tags(imported: dict[str, int]) -> None:
    article = kb.get_article(imported["en/disk-full.md"])
    assert article is not None and article.title == "Disk full on a Linux host"
    assert article.tags == ["disk", "linux"] and not article.body.startswith("#") and article.version == 1
    assert len(imported) == 60


def test_chinese_question_finds_chinese_article(imported: dict[str, int]) -> None:
    assert _top("磁盘满了写不进去怎么办")[0] == imported["zh/disk-full.md"]
    assert imported["zh/kafka-lag.md"] in _top("kafka 消息积压消费不过来")


def test_english_question_finds_english_article(imported: dict[str, int]) -> None:
    assert _top("postgres says sorry too many clients already")[0] == imported["en/postgres-connections.md"]
    assert imported["en/k8s-crashloop.md"] in _top("pod keeps crashing and restarting")


def test_search_returns_a_snippet_with_the_query_words(imported: dict[str, int]) -> None:
    hit = kb.search("lsof deleted files still hold space", limit=1)[0]
    assert hit.article_id == imported["en/disk-full.md"] and "lsof" in hit.snippet


def test_unrelated_or_empty_query_finds_nothing(imported: dict[str, int]) -> None:
    assert kb.search("the and of", limit=3) == []
    assert kb.search("zebra xylophone", limit=3) == []


def test_reimport_changes_only_edited_files_with_a_new_version(kb_app: Flask, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Alpha\n\nfirst text\n", encoding="utf-8")
    (tmp_path / "beta-notes.md").write_text("no heading here\n", encoding="utf-8")
    first = kb.import_dir(tmp_path, author="ou_bob")
    assert len(first.added) == 2
    assert kb.get_article(first.added[1]).title == "beta notes"  # type: ignore[union-attr]
    (tmp_path / "a.md").write_text("# Alpha\n\nsecond text\n", encoding="utf-8")
    second = kb.import_dir(tmp_path, author="ou_bob")
    assert (second.added, second.updated, len(second.unchanged)) == ([], [first.added[0]], 1)
    versions = kb.list_versions(first.added[0])
    assert [(v.version, v.body) for v in versions] == [(1, "first text"), (2, "second text")]
    assert kb.search("second", limit=1)[0].article_id == first.added[0]
    assert kb.search("first", limit=1) == []


def test_kb_add_then_text_saves_an_article_for_an_operator(kb_app: Flask) -> None:
    assert "next message" in say_text("/kb add Rotate Feishu app secret", open_id="ou_bob")
    body = "1. Open the developer console.\n2. Reset the secret; don't forget to update FEISHU_APP_SECRET."
    saved = say_text(body, open_id="ou_bob")
    assert saved.startswith("Saved #")
    article = kb.get_article_by_title("Rotate Feishu app secret")
    assert article is not None and article.body == body and article.author == "ou_bob"
    assert "Rotate Feishu app secret" in say_text("/kb search feishu secret")
    actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert "kb.add" in actions


def test_kb_add_inline_and_second_add_makes_a_new_version(kb_app: Flask) -> None:
    assert say_text("/kb add Purge CDN | Use the CDN console", open_id="ou_alice").startswith("Saved #")
    say_text("/kb add Purge CDN", open_id="ou_alice")
    assert "version 2" in say_text("Use the purge API instead.", open_id="ou_alice")


def test_kb_add_needs_operator_and_search_needs_only_user(kb_app: Flask) -> None:
    assert "needs the operator role" in say_text("/kb add Anything", open_id="ou_dave")
    assert "No knowledge-base article" in say_text("/kb search anything", open_id="ou_dave")


def test_kb_show_prints_the_article(imported: dict[str, int]) -> None:
    text = say_text(f"/kb show {imported['zh/ntp.md']}")
    assert "服务器时间不同步" in text and "chronyc" in text


def test_kb_import_cli(kb_app: Flask) -> None:
    result = kb_app.test_cli_runner().invoke(args=["kb", "import", str(KB_DIR / "zh")])
    assert result.exit_code == 0 and "30 added" in result.output
