"""Injection attempts in every argument of every command: refused, or passed as one literal argument."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.audit.service import verify
from app.automation.plans import VERSION_PATTERN
from tests.automation.conftest import Bot
from tests.automation.sshd import SSHServer

ATTEMPTS = [
    "x;id", "x && id", "x|id", "$(id)", "`id`", "x\nid", "'x'", '"x"', "--force", "-rf", "../../etc/passwd",
    "x$(touch /tmp/pwned)", "x;touch /tmp/pwned",
]
REFUSAL = re.compile(r"Refused|not allowed|unknown|Unknown|may not|Usage|cannot read|needs|is not|unexpected|must be")


def quoted(value: str) -> str:
    """The value as one chat word (the chat tokenizer reads shell-style quotes)."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def commands_with(value: str) -> list[str]:
    v = quoted(value)
    return [
        f"/status {v}",
        f"/logs {v}", f"/logs nginx {v}", f"/logs nginx 5 --host {v}", f"/logs nginx 5 --since {v}",
        f"/restart {v}", f"/restart nginx --host {v}",
        f"/deploy {v} staging", f"/deploy shop-api {v}", f"/deploy shop-api staging {v}",
        f"/run {v}", f"/run echo-arg target={v}", f"/run echo-arg {v}", f"/run echo-arg target=ok --host {v}",
        f"/cancel {v}",
    ]


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_injection_in_every_argument_is_refused_or_literal(bot: Bot, sshd: SSHServer, run_jobs, attempt: str) -> None:  # type: ignore[no-untyped-def]
    for text in commands_with(attempt):
        reply = bot.say(text)
        said = reply.text or str(reply.card)
        accepted = "queued" in said or reply.card is not None
        assert accepted or REFUSAL.search(said), (text, said)
    run_jobs()
    for call in sshd.calls():
        tool, args = call[0], call[1:]
        assert tool in ("systemctl", "journalctl", "deployer"), call
        if tool == "deployer" and args[0] == "shop-api":
            assert len(args) == 2 and re.fullmatch(VERSION_PATTERN, args[1]), call
        elif tool == "deployer":
            assert args[0] == "runbook" and len(args) == 2 and re.fullmatch(r"[A-Za-z0-9_.:/-]+", args[1]), call
        elif tool == "systemctl":
            assert args in (["is-active", "nginx.service"], ["restart", "nginx.service"],
                            ["is-active", "shop-api.service"]), call
    assert not Path("/tmp/pwned").exists()
    assert verify().ok


def test_grep_text_reaches_grep_as_one_literal_argument(bot: Bot, sshd: SSHServer) -> None:
    sshd.journal.write_text("plain line\nhas $(id) and `id` and ; | && 'q' \"q\" -rf ../x\n")
    for attempt in ["$(id)", "`id`", ";", "| &&", "'q'", "-rf", "../x", '"q"']:
        reply = bot.say(f"/logs nginx --host web-01 --grep {quoted(attempt)}")
        assert reply.text is not None and "has $(id)" in reply.text, (attempt, reply.text)
        assert "plain line" not in reply.text
    assert all(call[0] == "journalctl" and len(call) == 8 for call in sshd.calls())


def test_grep_with_a_newline_is_refused(bot: Bot, sshd: SSHServer) -> None:
    reply = bot.say("/logs nginx --grep 'a\nb'")
    assert reply.text is not None and "control characters" in reply.text
    assert sshd.calls() == []
