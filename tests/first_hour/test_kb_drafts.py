"""Items 2 and 3: /kb add drafts survive without Redis; a multi-line /kb add is title then body."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import update

from app.chat.commands.kb import split_title
from app.infra.db import db, utcnow
from app.kb import drafts
from app.kb.models import Draft
from tests.first_hour.conftest import console


def test_title_and_body_are_split_on_the_first_line() -> None:
    assert split_title("Title") == ("Title", "")
    assert split_title("Title | one line") == ("Title", "one line")
    assert split_title("Title\nline 1\n\nline 2") == ("Title", "line 1\n\nline 2")
    assert split_title("  Title  \n  body  ") == ("Title", "body")
    assert split_title("Title | first\nsecond") == ("Title", "first\nsecond")


def test_a_draft_without_redis_lives_in_the_database_and_expires(embedded_app: Flask) -> None:
    drafts.start(chat_id="c", open_id="ou_bob", title="T1")
    drafts.start(chat_id="c", open_id="ou_bob", title="T2")  # a second /kb add replaces the first
    assert db.session.query(Draft).count() == 1
    assert drafts.take(chat_id="c", open_id="ou_alice") is None
    assert drafts.take(chat_id="c", open_id="ou_bob") == "T2"
    assert drafts.take(chat_id="c", open_id="ou_bob") is None
    drafts.start(chat_id="c", open_id="ou_bob", title="old")
    db.session.execute(update(Draft).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert drafts.take(chat_id="c", open_id="ou_bob") is None


def test_multi_line_kb_add_keeps_the_body_verbatim(embedded_app: Flask) -> None:
    text = '/kb add Disk full on web-01\nRun `df -h`; don\'t delete "logs" blindly.\n\n- step one'
    result = console(embedded_app, "--as", "ou_bob", text)
    assert result.output.startswith("Saved #1 Disk full on web-01"), result.output
    shown = console(embedded_app, "--as", "ou_bob", "/kb show 1")
    assert 'Run `df -h`; don\'t delete "logs" blindly.\n\n- step one' in shown.output
    assert "Usage: /kb add" in console(embedded_app, "--as", "ou_bob", "/kb add").output

