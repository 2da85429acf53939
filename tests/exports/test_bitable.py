"""Bitable export: upserts by id against a fake that speaks the Bitable record API; retried and resumable."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from flask import Flask

from app import create_app
from app.alerts.models import Alert
from app.automation.models import Execution, ExecutionKind, ExecutionStatus
from app.errors import ConfigError
from app.exports import bitable
from app.exports.models import BitableCursor, BitableRow
from app.exports.tasks import export_to_bitable
from app.incidents.models import Incident
from app.infra import lanes
from app.infra.db import db
from app.inventory.loader import parse_inventory
from tests.conftest import INVENTORY, base_environ
from tests.fakes.bitable_server import FakeBitableServer

BASE = "bascnOpsBase01"
TABLES = {"alerts": "tblAlerts01", "incidents": "tblIncidents1", "executions": "tblExec01"}
COLUMNS = {
    "alerts": {"OpenClaw ID": "text", "Alert": "text", "Severity": "text", "Status": "text", "Service": "text",
               "Host": "text", "Summary": "text", "Count": "number", "Started": "datetime",
               "Acknowledged by": "text", "Acknowledged": "datetime", "Resolved": "datetime"},
    "incidents": {"OpenClaw ID": "text", "Title": "text", "Severity": "text", "Status": "text", "Commander": "text",
                  "Opened": "datetime", "Resolved": "datetime", "Alerts": "text", "Summary": "text"},
    "executions": {"OpenClaw ID": "text", "Kind": "text", "Target": "text", "Status": "text",
                   "Requested by": "text", "Approver": "text", "Requested": "datetime", "Finished": "datetime",
                   "Duration (s)": "number", "Summary": "text"},
}
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def bitable_server() -> Iterator[FakeBitableServer]:
    server = FakeBitableServer().start()
    for kind, table_id in TABLES.items():
        server.add_table(BASE, table_id, COLUMNS[kind])
    try:
        yield server
    finally:
        server.stop()


def write_inventory(tmp_path: Path, exports: dict[str, Any] | None) -> Path:
    inventory = yaml.safe_load(INVENTORY.read_text())
    if exports is not None:
        inventory["exports"] = exports
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def feishu_env(server: FakeBitableServer, inventory: Path) -> dict[str, str]:
    return {"OPENCLAW_CONFIG": str(inventory), "FEISHU_APP_ID": "cli_test", "FEISHU_APP_SECRET": "secret",
            "FEISHU_BASE_URL": server.url}


@pytest.fixture(params=["postgresql", "sqlite"])
def app(request: pytest.FixtureRequest, bitable_server: FakeBitableServer, tmp_path: Path) -> Iterator[Flask]:
    """The app with exports.bitable configured: on PostgreSQL + Redis, or embedded on SQLite."""
    env = feishu_env(bitable_server, write_inventory(tmp_path, {"bitable": {"app_token": BASE, "tables": TABLES}}))
    if request.param == "postgresql":
        application = request.getfixturevalue("make_app")(**env)
    else:
        application = create_app(base_environ(f"sqlite:///{tmp_path}/openclaw.db", REDIS_URL="", **env))
    with application.app_context():
        if request.param == "sqlite":
            from flask_migrate import upgrade

            upgrade()
        yield application
        db.session.remove()
        if request.param == "sqlite":
            db.engine.dispose()


def add_alert(n: int, **changes: Any) -> Alert:
    row = Alert(fingerprint=f"fp{n}", open_key=f"fp{n}", source="test", alertname=f"DiskFull{n}", severity="critical",
                status="firing", service="nginx", host="web-01", summary=f"disk {n} full password=hunter2",
                starts_at=T0, created_at=T0, last_seen=T0, **changes)
    db.session.add(row)
    db.session.commit()
    return row


def add_incident() -> Incident:
    row = Incident(title="checkout down", severity="sev2", commander="ou_bob", opened_by="ou_bob", created_at=T0,
                   alert_ids=[1, 2])
    db.session.add(row)
    db.session.commit()
    return row


def add_execution(status: ExecutionStatus = ExecutionStatus.SUCCEEDED) -> Execution:
    row = Execution(kind=ExecutionKind.DEPLOY, target="deploy shop-api prod", args={}, plan_digest="x",
                    requested_by="ou_bob", approver="ou_alice", status=status, created_at=T0,
                    finished_at=T0 + timedelta(minutes=3), duration_ms=180_000, summary="2 step(s) ok")
    db.session.add(row)
    db.session.commit()
    return row


def writes(server: FakeBitableServer) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in server.requests if "/bitable/" in r.path and r.status == 200
            and not r.path.endswith("/search")]


def by_id(server: FakeBitableServer, kind: str) -> dict[str, dict[str, Any]]:
    return {row["OpenClaw ID"]: row for row in server.rows(BASE, TABLES[kind])}


def test_the_first_run_creates_one_record_per_object_with_typed_fields(app: Flask,
                                                                       bitable_server: FakeBitableServer) -> None:
    alert = add_alert(1)
    incident = add_incident()
    execution = add_execution()
    summary = export_to_bitable()
    assert {kind: (s["created"], s["error"]) for kind, s in summary.items()} == {
        "alerts": (1, None), "incidents": (1, None), "executions": (1, None)}
    assert by_id(bitable_server, "alerts")[f"A-{alert.id}"] == {
        "OpenClaw ID": f"A-{alert.id}", "Alert": "DiskFull1", "Severity": "critical", "Status": "firing",
        "Service": "nginx", "Host": "web-01", "Summary": "disk 1 full password=***", "Count": 1,
        "Started": int(T0.timestamp() * 1000), "Acknowledged by": ""}
    assert by_id(bitable_server, "incidents")[incident.ref] == {
        "OpenClaw ID": incident.ref, "Title": "checkout down", "Severity": "sev2", "Status": "open",
        "Commander": "Bob", "Opened": int(T0.timestamp() * 1000), "Alerts": "A-1, A-2", "Summary": ""}
    assert by_id(bitable_server, "executions")[f"EX-{execution.id}"]["Duration (s)"] == 180.0
    assert by_id(bitable_server, "executions")[f"EX-{execution.id}"]["Approver"] == "Alice"
    calls = len(bitable_server.requests)
    assert {kind: s["unchanged"] for kind, s in export_to_bitable().items()} == {
        "alerts": 1, "incidents": 1, "executions": 0}  # the open alert and incident are looked at again
    assert len(bitable_server.requests) == calls  # nothing changed: no call at all


def test_a_changed_object_is_updated_in_place_and_final_ones_are_left_alone(
    app: Flask, bitable_server: FakeBitableServer,
) -> None:
    alert = add_alert(1)
    export_to_bitable()
    [record_id] = bitable_server.bases[BASE][TABLES["alerts"]].records
    alert.status, alert.acked_by, alert.acked_at, alert.count = "acknowledged", "ou_bob", T0 + timedelta(minutes=2), 3
    db.session.commit()
    assert export_to_bitable()["alerts"]["updated"] == 1
    [(same_id, fields)] = bitable_server.bases[BASE][TABLES["alerts"]].records.items()
    assert same_id == record_id
    assert (fields["Status"], fields["Acknowledged by"], fields["Count"]) == ("acknowledged", "Bob", 3)
    alert.status, alert.resolved_at = "resolved", T0 + timedelta(minutes=9)
    db.session.commit()
    export_to_bitable()
    assert db.session.get(BitableRow, ("alerts", alert.id)).final is True
    alert.summary = "edited after the fact"
    db.session.commit()
    assert export_to_bitable()["alerts"] == {"created": 0, "updated": 0, "unchanged": 0, "error": None}


def test_a_failed_run_keeps_the_error_and_the_next_run_resumes_without_duplicates(
    app: Flask, bitable_server: FakeBitableServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.exports.bitable_api import BitableApi
    from app.feishu.errors import FeishuUnavailable

    monkeypatch.setattr(bitable, "BATCH", 2)
    for n in range(5):
        add_alert(n)
    real_create, calls = BitableApi.create, []

    def lose_the_second_answer(self: BitableApi, table_id: str, rows: list[dict[str, Any]]) -> list[str]:
        created = real_create(self, table_id, rows)
        calls.append(len(rows))
        if len(calls) == 2:  # Bitable created them, but the answer never came back
            raise FeishuUnavailable(-1, "ReadTimeout")
        return created

    monkeypatch.setattr(BitableApi, "create", lose_the_second_answer)
    first = export_to_bitable()
    assert first["alerts"]["created"] == 2 and "ReadTimeout" in (first["alerts"]["error"] or "")
    assert first["incidents"]["error"] is None  # one kind failing does not stop the others
    cursor = db.session.get(BitableCursor, "alerts")
    assert cursor.last_id == min(a.id for a in db.session.scalars(sa.select(Alert))) + 1  # the first batch is kept
    assert "ReadTimeout" in (cursor.last_error or "")
    second = export_to_bitable()
    assert second["alerts"] == {"created": 1, "updated": 2, "unchanged": 2, "error": None}  # 2 open ones re-checked
    assert db.session.get(BitableCursor, "alerts").last_error is None
    assert sorted(by_id(bitable_server, "alerts")) == sorted(f"A-{a.id}" for a in db.session.scalars(sa.select(Alert)))
    assert len(bitable_server.rows(BASE, TABLES["alerts"])) == 5


def test_records_sent_but_not_recorded_are_found_by_id_not_created_again(
    app: Flask, bitable_server: FakeBitableServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.exports import bitable_api

    monkeypatch.setattr(bitable_api, "SEARCH_IDS", 2)
    alerts = [add_alert(n) for n in range(5)]
    export_to_bitable()
    # A run that died after Bitable's answer: the ids were marked in flight, our rows and mark never written.
    db.session.execute(sa.delete(BitableRow))
    db.session.execute(sa.update(BitableCursor).values(last_id=0, pending=[a.id for a in alerts]))
    db.session.commit()
    alerts[0].count = 9
    db.session.commit()
    export_to_bitable()
    rows = by_id(bitable_server, "alerts")
    assert len(bitable_server.rows(BASE, TABLES["alerts"])) == 5 and rows[f"A-{alerts[0].id}"]["Count"] == 9
    assert writes(bitable_server) == ["batch_create", "batch_update"]  # the second run found and updated them
    assert db.session.get(BitableCursor, "alerts").pending is None


def test_the_first_run_into_a_table_adopts_our_records_already_there(
    app: Flask, bitable_server: FakeBitableServer,
) -> None:
    alert = add_alert(1)
    table = bitable_server.bases[BASE][TABLES["alerts"]]
    table.records["recOLD0000001"] = {"OpenClaw ID": f"A-{alert.id}", "Alert": "stale"}
    table.records["recTEAM000001"] = {"OpenClaw ID": "", "Alert": "a row the team typed in"}
    table.records["recGONE000001"] = {"OpenClaw ID": "A-999999", "Alert": "an alert this database lacks"}
    assert export_to_bitable()["alerts"]["updated"] == 1
    assert table.records["recOLD0000001"]["Alert"] == "DiskFull1"
    assert table.records["recTEAM000001"]["Alert"] == "a row the team typed in"
    assert len(table.records) == 3 and writes(bitable_server) == ["batch_update"]


def test_rate_limits_and_write_conflicts_are_waited_out(app: Flask, bitable_server: FakeBitableServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.exports import bitable_api

    monkeypatch.setattr(bitable_api.time, "sleep", lambda seconds: None)
    add_alert(1)
    bitable_server.fail_next("/records/search", status=429, code=99991400, headers={"x-ogw-ratelimit-reset": "0.1"})
    bitable_server.fail_next("/records/batch_create", status=400, code=1254291, msg="Write conflict")
    assert export_to_bitable()["alerts"] == {"created": 1, "updated": 0, "unchanged": 0, "error": None}
    assert len(bitable_server.rows(BASE, TABLES["alerts"])) == 1
    creates = [r for r in bitable_server.requests if r.path.endswith("/batch_create")]
    assert len(creates) == 2 and creates[0].query["client_token"] == creates[1].query["client_token"]


def test_a_repeated_create_with_the_same_client_token_creates_nothing_new(
    app: Flask, bitable_server: FakeBitableServer,
) -> None:
    from app.exports.bitable_api import BitableApi
    from app.feishu.wiring import get_client

    api = BitableApi(get_client(), BASE)
    rows = [{"OpenClaw ID": "A-1", "Alert": "x"}]
    assert api.create(TABLES["alerts"], rows) == api.create(TABLES["alerts"], rows)
    assert len(bitable_server.rows(BASE, TABLES["alerts"])) == 1


def test_the_export_runs_in_the_bulk_lane(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.exports import tasks
    from app.infra import queue
    from app.infra.queue import run_job

    monkeypatch.setattr(queue, "_worker_app", app)  # other tests leave theirs behind
    seen: list[lanes.Lane] = []
    monkeypatch.setattr(tasks, "sync", lambda api, tables: seen.append(lanes.current()) or {})
    run_job("app.exports.tasks.export_to_bitable", ())
    assert seen == [lanes.Lane.BULK]


def test_the_scheduler_runs_the_export_every_minute() -> None:
    from app.worker import SCHEDULE

    entry = next(p for p in SCHEDULE if p.name == "bitable_export")
    assert entry.job is export_to_bitable


def test_without_the_setting_nothing_is_exported(make_app: Any, bitable_server: FakeBitableServer,
                                                 tmp_path: Path) -> None:
    application = make_app(**feishu_env(bitable_server, write_inventory(tmp_path, None)))
    with application.app_context():
        add_alert(1)
        assert export_to_bitable() == {}
        assert bitable_server.requests == []
        db.session.remove()


def test_a_new_table_starts_the_kind_over(app: Flask, bitable_server: FakeBitableServer) -> None:
    from app.exports.bitable_api import BitableApi
    from app.feishu.wiring import get_client

    add_alert(1)
    api = BitableApi(get_client(), BASE)
    bitable.sync(api, {"alerts": TABLES["alerts"]})
    bitable_server.add_table(BASE, "tblAlerts02", COLUMNS["alerts"])
    bitable.sync(api, {"alerts": "tblAlerts02"})
    assert len(bitable_server.rows(BASE, "tblAlerts02")) == 1
    assert db.session.get(BitableCursor, "alerts").table_id == "tblAlerts02"


@pytest.mark.parametrize(("exports", "reason"), [
    ({"bitable": {"app_token": "bad token!", "tables": {"alerts": "tblA"}}}, "exports.bitable.app_token"),
    ({"bitable": {"app_token": BASE, "tables": {}}}, "name at least one of tables.alerts"),
    ({"bitable": {"app_token": BASE, "tables": {"alerts": "sheet1"}}}, "exports.bitable.tables.alerts"),
    ({"bitable": {"app_token": BASE, "tables": {"users": "tblA"}}}, "exports.bitable.tables.users: unknown key"),
])
def test_bad_export_settings_are_refused_naming_the_key(exports: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigError, match=reason.replace(".", r"\.")):
        parse_inventory(yaml.safe_dump({"exports": exports}), "inv.yaml")


def test_without_feishu_credentials_the_export_says_so_and_does_nothing(
    make_app: Any, bitable_server: FakeBitableServer, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    inventory = write_inventory(tmp_path, {"bitable": {"app_token": BASE, "tables": TABLES}})
    application = make_app(OPENCLAW_CONFIG=str(inventory))
    with application.app_context():
        add_alert(1)
        assert export_to_bitable() == {}
        assert "FEISHU_APP_ID/FEISHU_APP_SECRET are not" in caplog.text
        assert bitable_server.requests == []
        db.session.remove()


def test_a_record_deleted_in_bitable_is_created_again_and_the_others_still_update(
    app: Flask, bitable_server: FakeBitableServer,
) -> None:
    first, second = add_alert(1), add_alert(2)
    export_to_bitable()
    table = bitable_server.bases[BASE][TABLES["alerts"]]
    deleted = next(rid for rid, fields in table.records.items() if fields["OpenClaw ID"] == f"A-{first.id}")
    del table.records[deleted]  # someone tidied the table by hand
    first.count, second.count = 4, 5
    db.session.commit()
    outcome = export_to_bitable()["alerts"]
    assert (outcome["created"], outcome["updated"], outcome["error"]) == (1, 1, None)
    rows = by_id(bitable_server, "alerts")
    assert (rows[f"A-{first.id}"]["Count"], rows[f"A-{second.id}"]["Count"]) == (4, 5) and len(rows) == 2
    assert db.session.get(BitableRow, ("alerts", first.id)).record_id != deleted
