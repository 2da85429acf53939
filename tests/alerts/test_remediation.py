"""Self-healing: a runbook through the automation engine, an hourly limit, escalation when it does not help."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.alerts.models import RemediationRun
from app.alerts.tasks import tick
from app.audit.models import AuditEvent
from app.automation.models import Execution
from app.infra.db import db
from tests.alerts.conftest import all_alerts, am_alert, am_payload, cards_to, post_am

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode


def runs() -> list[RemediationRun]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(RemediationRun).order_by(RemediationRun.id)))


def test_matching_alert_runs_the_runbook_and_posts_the_result_on_its_card(app: Flask, client: Any, drain: Any,
                                                                          feishu_server: Any) -> None:
    post_am(client, am_payload(am_alert("DiskFull", severity="warning")))
    drain()
    (run,) = runs()
    execution = db.session.get(Execution, run.execution_id)
    assert execution is not None and execution.args["runbook"] == "heal"
    assert execution.requested_by == "openclaw:remediation" and str(execution.status) == "succeeded"
    result = tick()
    assert result["remediation"]["finished"] == 1
    (card,) = cards_to(feishu_server)
    assert "Remediation** runbook heal: succeeded" in str(card.updates[-1])
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"alert.remediate", "execution.request", "execution.finish"} <= actions


def test_remediation_stays_under_its_hourly_limit(app: Flask, client: Any, drain: Any) -> None:
    hosts = ["db-01", "db-02", "db-03"]
    post_am(client, am_payload(*[am_alert("DiskFull", severity="warning", host=h) for h in hosts]))
    drain()
    assert [(r.slot, r.runbook) for r in runs()] == [(1, "heal"), (2, "heal")]
    limited = [a for a in all_alerts() if a.id not in {r.alert_id for r in runs()}]
    assert len(limited) == 1 and "limit of 2/h reached" in str(limited[0].escalation_log)
    assert limited[0].next_escalation_at is not None  # a person must look instead
    post_am(client, am_payload(am_alert("DiskFull", severity="warning", host="db-01", status="resolved")))
    post_am(client, am_payload(am_alert("DiskFull", severity="warning", host="db-01")))
    drain()
    assert len(runs()) == 2  # a re-fire within the hour finds no free slot


def test_still_firing_after_the_grace_period_escalates(app: Flask, client: Any, drain: Any,
                                                       feishu_server: Any) -> None:
    post_am(client, am_payload(am_alert("DiskFull", severity="warning")))
    drain()
    feishu_server.buzzes.clear()
    first = tick()
    (run,) = runs()
    assert first["remediation"] == {"finished": 1, "escalated": 0} and run.check_at is not None
    assert tick(run.check_at - timedelta(seconds=1))["remediation"]["escalated"] == 0
    assert tick(run.check_at)["remediation"]["escalated"] == 1
    assert tick(run.check_at + timedelta(seconds=1))["escalated"] == [(run.alert_id, 1)]
    assert len(feishu_server.buzzes) == 1 and feishu_server.buzzes[0][1] == "app"
    assert "still firing after self-healing" in str(all_alerts()[0].escalation_log)


def test_resolved_before_the_recheck_does_not_escalate(app: Flask, client: Any, drain: Any,
                                                       feishu_server: Any) -> None:
    post_am(client, am_payload(am_alert("DiskFull", severity="warning")))
    drain()
    tick()
    post_am(client, am_payload(am_alert("DiskFull", severity="warning", status="resolved")))
    (run,) = runs()
    result = tick(run.check_at + timedelta(seconds=1))
    assert result["remediation"]["escalated"] == 0 and result["escalated"] == []


def test_an_http_only_runbook_is_run_without_a_host(app: Flask, client: Any, drain: Any) -> None:
    from app.automation.models import ExecutionHost

    post_am(client, am_payload(am_alert("CiBroken", severity="warning")))
    drain()
    (run,) = runs()
    assert run.status != "refused", run
    execution = db.session.get(Execution, run.execution_id)
    assert execution is not None and execution.args["host"] is None
    (row,) = db.session.scalars(sa.select(ExecutionHost).where(ExecutionHost.execution_id == execution.id))
    assert (row.step_name, row.host, row.outcome) == ("1. http", "127.0.0.1:9", "unreachable")


def test_a_host_less_runbook_runs_on_a_host_the_rule_ties_to_it(app: Flask, client: Any, drain: Any) -> None:
    post_am(client, am_payload(am_alert("ServiceDown", severity="warning", host="local")))
    drain()
    (run,) = runs()
    execution = db.session.get(Execution, run.execution_id)
    assert execution is not None and execution.args["host"] == "local" and str(execution.status) == "succeeded"


def test_a_host_less_runbook_runs_on_its_services_host(app: Flask, client: Any, drain: Any) -> None:
    post_am(client, am_payload(am_alert("ServiceDown", severity="warning", host="web-01", service="nginx")))
    drain()
    (run,) = runs()
    execution = db.session.get(Execution, run.execution_id)
    assert execution is not None and execution.args["host"] == "web-01"


def test_the_alert_cannot_choose_a_host_outside_its_service_or_rule(app: Flask, client: Any, drain: Any) -> None:
    """Whoever holds the webhook token names the host; the inventory decides where a runbook may run."""
    post_am(client, am_payload(am_alert("ServiceDown", severity="critical", host="vault-01"),
                               am_alert("ServiceDown", severity="critical", host="vault-01", service="nginx",
                                        fingerprint="f2")))
    drain()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Execution)) == 0
    assert [r.status for r in runs()] == ["refused", "refused"]
    assert all("vault-01 is not tied" in (r.summary or "") for r in runs())
    refusals = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "alert.remediate.refused")).all()
    assert len(refusals) == 2 and {e.details["host"] for e in refusals} == {"vault-01"}
    assert all(a.next_escalation_at is not None for a in all_alerts())  # a person must look instead


def test_a_refused_host_name_is_shown_escaped_on_the_card(app: Flask, client: Any, drain: Any,
                                                          feishu_server: Any) -> None:
    post_am(client, am_payload(am_alert("ServiceDown", severity="warning", host="<at id=all></at>")))
    drain()
    tick()
    (card,) = cards_to(feishu_server)
    latest = card.updates[-1] if card.updates else card.content
    shown = "\n".join(e.get("content", "") for e in latest["body"]["elements"] if e["tag"] == "markdown")
    assert "is not tied" in shown and "<at id=all>" not in shown  # the title is plain_text, never markdown
