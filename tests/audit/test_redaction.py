"""Audit details hold what people typed; secrets in it are masked before the record is written."""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Flask

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.inbox import console
from app.infra.db import db
from tests.ai.chat_helpers import say

SECRET = "hunter2-7f3a9c"


def details_of(action: str) -> list[dict[str, Any]]:
    db.session.expire_all()
    return [e.details for e in db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action))]


def test_grep_arguments_of_a_command_are_redacted_in_the_audit_log(app: Flask) -> None:
    say(f"/logs nginx --grep password={SECRET}", open_id="ou_bob")
    (details,) = details_of("command.run")
    assert details["args"]["grep"] == "password=***" and SECRET not in json.dumps(details)
    assert audit.verify().ok  # the HMAC covers the redacted details


def test_console_text_is_redacted_in_the_audit_log(app: Flask) -> None:
    console.send(open_id="ou_bob", text=f"/logs nginx --grep 'Authorization: Bearer {SECRET}'", actor="ou_alice",
                 sender_id=1)
    (details,) = details_of("console.send")
    assert details["text"] == "/logs nginx --grep 'Authorization: Bearer ***'"


def test_a_value_under_a_secret_key_is_masked_whole() -> None:
    from app.automation.redact import redact_details

    assert redact_details({"args": {"api_key": SECRET, "lines": 5, "service": "nginx", "max_tokens": 9}}) == {
        "args": {"api_key": "***", "lines": 5, "service": "nginx", "max_tokens": 9}}
