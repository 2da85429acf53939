"""/status, /logs, /restart, /run and the kill switch, end to end against a real sshd."""
from __future__ import annotations

import json
from pathlib import Path

from flask import Flask

from app.audit.models import AuditEvent
from app.audit.service import verify
from app.automation.models import Execution, ExecutionHost, ExecutionStatus
from app.infra.db import db
from tests.automation.conftest import Bot
from tests.automation.helpers import latest_execution
from tests.automation.sshd import SSHServer, keygen

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
SECRETS = {
    "password": "pw-hunter2",
    "token": "tok-4455667788",
    "bearer": "bearer-abcdefghijkl",
    "jwt": JWT,
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "dsn": "dsn-pass-99",
    "pem": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
    "github": "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
}
JOURNAL = "\n".join([
    "Nov 21 10:00:01 web-01 nginx[11]: started",
    f"Nov 21 10:00:02 web-01 app[12]: login user=bob password={SECRETS['password']}",
    f"Nov 21 10:00:03 web-01 app[12]: api token={SECRETS['token']} accepted",
    f"Nov 21 10:00:04 web-01 app[12]: Authorization: Bearer {SECRETS['bearer']}",
    f"Nov 21 10:00:05 web-01 app[12]: session {SECRETS['jwt']}",
    f"Nov 21 10:00:06 web-01 app[12]: aws {SECRETS['aws']} {SECRETS['aws_secret']}",
    f"Nov 21 10:00:07 web-01 app[12]: db postgres://shop:{SECRETS['dsn']}@db:5432/shop",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    SECRETS["pem"],
    "-----END OPENSSH PRIVATE KEY-----",
    f"Nov 21 10:00:08 web-01 app[12]: git push {SECRETS['github']}",
    "Nov 21 10:00:09 web-01 app[12]: weird a;b $(id) `id` | x",
    "Nov 21 10:00:10 web-01 nginx[11]: ready",
])


def rows_of(execution: Execution) -> list[ExecutionHost]:
    return list(execution.hosts)


def test_status_reports_every_host_with_its_figures(bot: Bot) -> None:
    reply = bot.say("/status", open_id="ou_erin")  # default role: user
    assert reply.card is not None
    content = reply.card["body"]["elements"][0]["content"]
    for host in ("web-01", "web-02", "local"):
        assert f"**{host}**" in content
    assert "load" in content and "mem" in content and "disk" in content and "up " in content
    execution = latest_execution()
    assert execution.kind == "status" and execution.status is ExecutionStatus.SUCCEEDED
    assert {row.host for row in rows_of(execution)} == {"web-01", "web-02", "local"}
    assert verify().ok


def test_status_of_a_service_shows_its_unit_state(bot: Bot, sshd: SSHServer) -> None:
    reply = bot.say("/status broken")
    assert reply.card is not None
    content = reply.card["body"]["elements"][0]["content"]
    assert "web-01" in content and "unit **failed**" in content and "🔴" in content
    assert ["systemctl", "is-active", "broken.service"] in sshd.calls()


def test_logs_redact_every_kind_of_secret(bot: Bot, sshd: SSHServer) -> None:
    sshd.journal.write_text(JOURNAL + "\n")
    reply = bot.say("/logs nginx 50 --host web-01")
    assert reply.text is not None and "ready" in reply.text and "started" in reply.text
    stored = "\n".join(row.output for row in rows_of(latest_execution()))
    audit_text = json.dumps([e.details for e in db.session.query(AuditEvent).all()])
    for name, secret in SECRETS.items():
        assert secret not in reply.text, name
        assert secret not in stored, name
        assert secret not in audit_text, name
    assert sshd.calls() == [["journalctl", "-u", "nginx.service", "--no-pager", "-o", "short-iso", "-n", "50"]]


def test_logs_grep_is_a_literal_string(bot: Bot, sshd: SSHServer) -> None:
    sshd.journal.write_text(JOURNAL + "\n")
    reply = bot.say("/logs nginx --host web-01 --since 2h --grep '$(id) `id` |'")
    assert reply.text is not None
    assert "weird a;b $(id) `id` | x" in reply.text
    assert "ready" not in reply.text
    assert sshd.calls() == [["journalctl", "-u", "nginx.service", "--no-pager", "-o", "short-iso",
                             "--since=-7200s", "-n", "20000"]]


def test_logs_from_a_file_are_tailed_and_redacted(bot: Bot, sshd: SSHServer) -> None:
    logfile = sshd.workdir / "app.log"
    logfile.write_text("one\napi_key=abc123secret\nthree\n")
    logfile.chmod(0o644)
    reply = bot.say("/logs applog 2")
    assert reply.text is not None and "three" in reply.text and "one" not in reply.text
    assert "abc123secret" not in reply.text and "api_key=***" in reply.text


def test_logs_need_the_operator_role(bot: Bot, sshd: SSHServer) -> None:
    reply = bot.say("/logs nginx", open_id="ou_carol")
    assert reply.text is not None and "needs the operator role" in reply.text
    assert sshd.calls() == []


def test_restart_restarts_then_checks_on_each_host(bot: Bot, sshd: SSHServer) -> None:
    reply = bot.say("/restart nginx")
    assert reply.card is not None and reply.card["header"]["template"] == "green"
    calls = sshd.calls()
    assert calls[:2] == [["systemctl", "restart", "nginx.service"]] * 2
    assert calls[2:] == [["systemctl", "is-active", "nginx.service"]] * 2
    execution = latest_execution()
    assert execution.status is ExecutionStatus.SUCCEEDED and execution.duration_ms is not None
    assert [(r.host, r.step_name, r.exit_code) for r in rows_of(execution)] == [
        ("web-01", "restart", 0), ("web-02", "restart", 0), ("web-01", "check", 0), ("web-02", "check", 0)]
    assert verify().ok


def test_restart_that_fails_stops_before_the_check(bot: Bot, sshd: SSHServer) -> None:
    reply = bot.say("/restart broken")
    assert reply.card is not None and reply.card["header"]["template"] == "red"
    assert sshd.calls() == [["systemctl", "restart", "broken.service"]]
    assert latest_execution().status is ExecutionStatus.FAILED


def test_restart_refused_when_the_host_key_changed(bot: Bot, auto_app: Flask, sshd: SSHServer, tmp_path: Path) -> None:
    other = keygen(tmp_path / "impostor")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {Path(f'{other}.pub').read_text()}")
    auto_app.config["SSH_KNOWN_HOSTS"] = str(known)
    reply = bot.say("/restart nginx --host web-01")
    assert reply.card is not None and "does not match" in json.dumps(reply.card)
    assert sshd.calls() == []
    assert latest_execution().hosts[0].outcome == "refused"


def test_user_role_cannot_restart(bot: Bot, sshd: SSHServer) -> None:
    reply = bot.say("/restart nginx", open_id="ou_erin")
    assert reply.text is not None and "needs the operator role" in reply.text
    assert sshd.calls() == []


def test_runbook_runs_with_its_argument_and_role(bot: Bot, sshd: SSHServer, run_jobs) -> None:  # type: ignore[no-untyped-def]
    assert "queued" in (bot.say("/run echo-arg target=alpha.1").text or "")
    run_jobs()
    assert sshd.calls() == [["deployer", "runbook", "alpha.1"]]
    assert latest_execution().status is ExecutionStatus.SUCCEEDED
    refused = bot.say("/run admin-only")
    assert refused.text is not None and "needs the admin role" in refused.text


def test_runbook_command_timeout_kills_it(bot: Bot, auto_app: Flask, run_jobs) -> None:  # type: ignore[no-untyped-def]
    auto_app.config["SSH_COMMAND_TIMEOUT"] = 1
    bot.say("/run sleeper seconds=45")
    run_jobs()
    execution = latest_execution()
    assert execution.status is ExecutionStatus.FAILED
    assert execution.hosts[0].outcome == "timeout"
    assert "timeout" in (execution.summary or "")


def test_local_runbook_runs_on_the_bot_machine(bot: Bot, run_jobs) -> None:  # type: ignore[no-untyped-def]
    bot.say("/run local-echo word=there")
    run_jobs()
    execution = latest_execution()
    assert execution.status is ExecutionStatus.SUCCEEDED and execution.hosts[0].output == "hello there\n"


def test_pause_refuses_mutating_actions_until_resume(bot: Bot, auto_app: Flask, sshd: SSHServer) -> None:
    assert "needs the admin role" in (bot.say("/pause", open_id="ou_bob").text or "")
    assert "paused" in (bot.say("/pause change freeze", open_id="ou_alice").text or "")
    refused = bot.say("/restart nginx")
    assert refused.text is not None and "paused" in refused.text and "change freeze" in refused.text
    assert bot.say("/status web-01").card is not None  # read-only still works
    assert not [c for c in sshd.calls() if c[:2] == ["systemctl", "restart"]]
    result = auto_app.test_cli_runner().invoke(args=["automation", "resume"])
    assert result.exit_code == 0, result.output
    assert bot.say("/restart nginx --host web-01").card is not None
    assert ["systemctl", "restart", "nginx.service"] in sshd.calls()
    actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.seq)]
    assert "automation.pause" in actions and "automation.resume" in actions and "execution.refused" in actions
    assert verify().ok


def test_cli_pause_is_seen_by_the_chat(bot: Bot, auto_app: Flask) -> None:
    runner = auto_app.test_cli_runner()
    assert runner.invoke(args=["automation", "pause", "--reason", "incident"]).exit_code == 0
    assert "paused" in runner.invoke(args=["automation", "status"]).output
    assert "paused" in (bot.say("/run echo-arg target=x").text or "")
