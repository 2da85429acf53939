"""The audit log: append-only, HMAC-chained, verified record by record; no audit, no action."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.audit import service as audit
from app.audit.models import GENESIS, AuditEvent
from app.chat import registry
from app.chat.args import Args
from app.chat.types import CommandContext, Reply, Role
from app.errors import AuditWriteFailed
from app.infra.db import db


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """The app on PostgreSQL (no Feishu needed here), with an app context pushed."""
    application = make_app()
    with application.app_context():
        yield application
        db.session.remove()


def record_many(count: int, actor: str = "ou_bob") -> list[AuditEvent]:
    return [
        audit.record(actor=actor, action="command.run", target=f"cmd{i}", chat_id="oc_ops",
                     details={"args": {"n": i}, "note": "版本"})
        for i in range(count)
    ]


def tamper(sql: str, **params: Any) -> None:
    """Change the audit table the way a DBA could: the append-only trigger switched off for one transaction."""
    db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    db.session.execute(sa.text(sql), params)
    db.session.commit()


def rows() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)))


# -- the chain -------------------------------------------------------------------------------


def test_records_are_chained_each_to_the_one_before_and_verify(app: Flask) -> None:
    first, second, third = record_many(3)
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    report = audit.verify()
    assert report.ok
    assert report.checked == 3
    assert report.broken_seq is None


def test_an_empty_log_verifies(app: Flask) -> None:
    report = audit.verify()
    assert report.ok and report.checked == 0


def test_details_that_are_not_json_types_are_stored_as_text_and_still_verify(app: Flask) -> None:
    from datetime import UTC, datetime

    audit.record(actor="ou_bob", action="x", details={"when": datetime(2026, 1, 1, tzinfo=UTC), "ids": (1, 2)})
    assert audit.verify().ok


def test_the_database_refuses_to_update_an_audit_record(app: Flask) -> None:
    record_many(2)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("UPDATE audit_events SET actor = 'ou_mallory' WHERE seq = 1"))
        db.session.commit()
    db.session.rollback()
    assert rows()[0].actor == "ou_bob"


def test_the_database_refuses_to_delete_an_audit_record(app: Flask) -> None:
    record_many(2)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM audit_events WHERE seq = 1"))
        db.session.commit()
    db.session.rollback()
    assert len(rows()) == 2


def test_an_edited_record_is_named_by_verify(app: Flask) -> None:
    record_many(4)
    tamper("UPDATE audit_events SET details = CAST(:details AS json) WHERE seq = 3",
           details='{"args": {"n": 99}, "note": "版本"}')
    report = audit.verify()
    assert not report.ok
    assert report.broken_seq == 3
    assert report.broken_id == rows()[2].id
    assert report.checked == 2
    assert "edited" in (report.reason or "")


def test_an_edited_actor_is_named_by_verify(app: Flask) -> None:
    record_many(3)
    tamper("UPDATE audit_events SET actor = 'ou_mallory' WHERE seq = 1")
    report = audit.verify()
    assert (report.ok, report.broken_seq) == (False, 1)


def test_a_record_edited_together_with_its_own_hash_breaks_the_next_link(app: Flask) -> None:
    record_many(3)
    tamper("UPDATE audit_events SET target = 'other', hash = :fake WHERE seq = 2", fake="f" * 64)
    report = audit.verify()
    assert not report.ok
    assert report.broken_seq == 2  # its HMAC no longer matches its content


def test_a_deleted_middle_record_is_named_as_a_gap(app: Flask) -> None:
    record_many(5)
    tamper("DELETE FROM audit_events WHERE seq = 3")
    report = audit.verify()
    assert not report.ok
    assert report.broken_seq == 4
    assert report.checked == 2
    assert "#3" in (report.reason or "")
    assert "missing" in (report.reason or "")


def test_a_deleted_first_record_is_named_as_a_gap(app: Flask) -> None:
    record_many(2)
    tamper("DELETE FROM audit_events WHERE seq = 1")
    report = audit.verify()
    assert (report.ok, report.broken_seq) == (False, 2)
    assert "#1" in (report.reason or "")


def test_a_chain_written_under_another_audit_key_does_not_verify(
    app: Flask, make_app: Callable[..., Flask],
) -> None:
    record_many(2)
    other = make_app(AUDIT_KEY="a-different-server-secret-4f1d9c7e2b8a")
    with other.app_context():
        report = audit.verify()
    assert (report.ok, report.broken_seq) == (False, 1)


def test_the_audit_key_is_not_the_secret_key(app: Flask) -> None:
    assert app.config["AUDIT_KEY"] != app.config["SECRET_KEY"]


# -- the CLI ---------------------------------------------------------------------------------


def test_audit_verify_on_the_command_line_exits_0_for_an_intact_chain(app: Flask) -> None:
    record_many(3)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "3 records" in result.output


def test_audit_verify_on_the_command_line_exits_1_and_names_the_edited_record(app: Flask) -> None:
    record_many(3)
    tamper("UPDATE audit_events SET chat_id = 'oc_elsewhere' WHERE seq = 2")
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    output = result.output + (result.stderr if hasattr(result, "stderr") else "")
    assert "#2" in output
    assert f"id {rows()[1].id}" in output


def test_audit_verify_on_the_command_line_exits_1_and_names_the_gap(app: Flask) -> None:
    record_many(3)
    tamper("DELETE FROM audit_events WHERE seq = 2")
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "#3" in result.output
    assert "#2 is missing" in result.output


# -- concurrency -----------------------------------------------------------------------------


def test_concurrent_appends_from_several_threads_keep_one_valid_chain(app: Flask) -> None:
    threads_count, per_thread = 6, 10
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_count)

    def append(worker: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                for i in range(per_thread):
                    audit.record(actor=f"ou_worker{worker}", action="test.append", details={"i": i})
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    records = rows()
    assert [r.seq for r in records] == list(range(1, threads_count * per_thread + 1))
    assert len({r.actor for r in records}) == threads_count
    report = audit.verify()
    assert report.ok and report.checked == threads_count * per_thread


def test_concurrent_appends_from_two_apps_with_separate_engines_keep_one_valid_chain(
    app: Flask, make_app: Callable[..., Flask],
) -> None:
    other = make_app()
    errors: list[BaseException] = []

    def append(application: Flask, actor: str) -> None:
        try:
            with application.app_context():
                for i in range(15):
                    audit.record(actor=actor, action="test.append", details={"i": i})
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(a, n)) for a, n in ((app, "ou_a"), (other, "ou_b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [r.seq for r in rows()] == list(range(1, 31))
    assert audit.verify().ok


# -- no audit, no action ---------------------------------------------------------------------


@pytest.fixture
def guarded_command() -> Iterator[tuple[str, list[str]]]:
    """A throwaway operator command that records each run; removed after the test."""
    name = f"guarded-{uuid.uuid4().hex[:8]}"
    runs: list[str] = []

    def handler(ctx: CommandContext, args: Args) -> Reply:
        """Does something that must be audited."""
        runs.append(ctx.open_id)
        return Reply.of_text("done")

    registry.command(name, usage=f"/{name}", role=Role.OPERATOR)(handler)
    yield name, runs
    registry._commands.pop(name, None)


def test_a_command_is_audited_before_it_runs(app: Flask, guarded_command: tuple[str, list[str]]) -> None:
    name, runs = guarded_command
    ctx = CommandContext(open_id="ou_bob", role=Role.OPERATOR, chat_id="oc_ops", event_id="ev1")
    reply = registry.dispatch(ctx, f"/{name}")
    assert reply.text == "done"
    assert runs == ["ou_bob"]
    [record] = rows()
    assert (record.actor, record.action, record.target, record.chat_id) == ("ou_bob", "command.run", name, "oc_ops")
    assert record.details["event_id"] == "ev1"


def test_when_the_audit_record_cannot_be_written_the_command_is_refused_and_not_run(
    app: Flask, guarded_command: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, runs = guarded_command

    def failing_commit() -> None:
        raise sa.exc.OperationalError("INSERT INTO audit_events", {}, Exception("could not extend file: disk full"))

    monkeypatch.setattr(db.session, "commit", failing_commit)
    ctx = CommandContext(open_id="ou_bob", role=Role.OPERATOR, chat_id="oc_ops")
    reply = registry.dispatch(ctx, f"/{name}")
    monkeypatch.undo()
    assert runs == []
    assert "audit" in (reply.text or "").lower()
    assert "nothing was done" in (reply.text or "")
    assert rows() == []


def test_when_the_database_refuses_audit_inserts_the_command_is_refused_and_not_run(
    app: Flask, guarded_command: tuple[str, list[str]],
) -> None:
    name, runs = guarded_command
    db.session.execute(sa.text(
        "CREATE FUNCTION test_refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no space'; END; $$ "
        "LANGUAGE plpgsql"))
    db.session.execute(sa.text(
        "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW "
        "EXECUTE FUNCTION test_refuse_audit()"))
    db.session.commit()
    try:
        reply = registry.dispatch(CommandContext(open_id="ou_bob", role=Role.OPERATOR, chat_id="oc_ops"), f"/{name}")
    finally:
        db.session.rollback()
        db.session.execute(sa.text("DROP TRIGGER test_refuse_audit ON audit_events"))
        db.session.execute(sa.text("DROP FUNCTION test_refuse_audit()"))
        db.session.commit()
    assert runs == []
    assert "audit" in (reply.text or "").lower()


def test_record_raises_audit_write_failed_rather_than_skipping_silently(
    app: Flask, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing_commit() -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("connection lost"))

    monkeypatch.setattr(db.session, "commit", failing_commit)
    with pytest.raises(AuditWriteFailed):
        audit.record(actor="ou_bob", action="x")


# -- the published head ----------------------------------------------------------------------


def _published_head(caplog: pytest.LogCaptureFixture) -> str:
    """The head as the newest 'audit head' JSON log line publishes it."""
    import json

    from app.infra.logging import JsonFormatter

    line = json.loads(JsonFormatter().format([r for r in caplog.records if r.getMessage() == "audit head"][-1]))
    return f"{line['audit_head_seq']}:{line['audit_head_hash']}"


def test_deleting_the_newest_records_is_caught_against_the_published_head(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the head, a chain cut short still verifies: nothing in the table says records are missing."""
    with caplog.at_level("INFO", logger="app.audit.service"):
        record_many(5)
    head = _published_head(caplog)
    assert head.startswith("5:") and head == f"5:{rows()[-1].hash}"
    tamper("DELETE FROM audit_events WHERE seq >= 4")
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0  # the gap the head closes
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--expect-head", head])
    assert result.exit_code == 1
    assert "TRUNCATED: published head #5 is missing: the log ends at #3" in result.output


def test_a_rewritten_tail_is_caught_against_the_published_head(app: Flask) -> None:
    record_many(3)
    head = app.test_cli_runner().invoke(args=["audit", "head"]).output.strip()
    # Someone with the audit key and the database rewrites the newest record consistently.
    tamper("DELETE FROM audit_events WHERE seq = 3")
    audit.record(actor="ou_mallory", action="command.run", target="nothing to see")
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--expect-head", head])
    assert result.exit_code == 1 and "record #3 does not match the published head's hash" in result.output


def test_an_intact_log_passes_with_an_older_head_and_a_bad_head_is_a_usage_error(app: Flask) -> None:
    record_many(2)
    older = app.test_cli_runner().invoke(args=["audit", "head"]).output.strip()
    record_many(2)
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--expect-head", older])
    assert result.exit_code == 0 and "including published head #2" in result.output
    bad = app.test_cli_runner().invoke(args=["audit", "verify", "--expect-head", "two:abc"])
    assert bad.exit_code == 2 and "expected SEQ:HASH" in bad.output


def test_the_head_seq_is_a_metric_in_this_process(app: Flask) -> None:
    from app.infra.metrics import render

    record_many(3)
    assert "openclaw_audit_head_seq 3.0" in render()[0].decode()


def test_the_head_seq_metric_is_the_highest_any_process_appended(tmp_path: Any) -> None:
    """Under gunicorn and RQ several processes append; /metrics must show the newest seq, not a sum."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for seq in (7, 12, 9):  # three processes, each the last to append at some point
        subprocess.run([sys.executable, "-c", f"from app.infra.metrics import AUDIT_HEAD_SEQ; AUDIT_HEAD_SEQ.set({seq})"],
                       env=env, cwd=ROOT, check=True)
    shown = subprocess.run([sys.executable, "-c", "from app.infra.metrics import render; print(render()[0].decode())"],
                           env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert "openclaw_audit_head_seq 12.0" in shown
