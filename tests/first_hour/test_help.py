"""Item 9: /help lists only what the sender may run, sub-commands included."""
from __future__ import annotations

from flask import Flask

from tests.first_hour.conftest import console


def _help(app: Flask, open_id: str, *args: str) -> str:
    result = console(app, "--as", open_id, " ".join(["/help", *args]))
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_a_user_sees_only_the_sub_commands_they_may_run(embedded_app: Flask) -> None:
    text = _help(embedded_app, "ou_nobody")  # default_role: user
    assert text.startswith("Commands for you (user):")
    assert "/incident list|show ... - " in text
    for hidden in ("open", "note", "close", "room", "/deploy", "/restart", "/kb add", "/alert ack", "/pause"):
        assert hidden not in text, hidden
    assert "/alert list ... - " in text
    sub = _help(embedded_app, "ou_nobody", "incident")
    assert "/incident list [all]" in sub and "/incident show ID" in sub and "open" not in sub
    assert "that you can use" in _help(embedded_app, "ou_nobody", "incident open")
    bare = console(embedded_app, "--as", "ou_nobody", "/incident").output
    assert "/incident list" in bare and "/incident open" not in bare


def test_an_operator_sees_every_sub_command(embedded_app: Flask) -> None:
    text = _help(embedded_app, "ou_bob")
    assert "/incident open|note|close|list|show|room ... - " in text
    assert "/alert list|ack|resolve|silence|silences|unsilence ... - " in text
