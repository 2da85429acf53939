"""The weekly report: a scripted week gives the card, the page, /report and one post per chat and week."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from app.ai.models import LLMCall
from app.automation.models import Execution, ExecutionKind, ExecutionStatus
from app.chat.registry import dispatch
from app.chat.types import CommandContext
from app.infra.db import db
from app.reports import weekly
from app.reports.cards import report_lines
from app.reports.models import ReportPost
from app.reports.tasks import post_weekly_reports
from app.users.service import role_of
from tests.conftest import INVENTORY
from tests.reports.test_response import MIN, alert, at, incident

WEEK = "2026-W49"  # Mon 30 Nov .. Sun 6 Dec 2026, Asia/Shanghai


@pytest.fixture
def app(make_app: Any, feishu_server: Any, tmp_path: Path) -> Iterator[Flask]:
    """The app on PostgreSQL + Redis with the weekly report posted to two chats on Monday 09:00."""
    inventory = yaml.safe_load(INVENTORY.read_text())
    inventory["reports"] = {"weekly": {"chats": ["oc_ops", "oc_leads"], "weekday": "mon", "time": "09:00"}}
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory))
    application = make_app(OPENCLAW_CONFIG=str(path), FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret",
                           FEISHU_BASE_URL=feishu_server.url)
    with application.app_context():
        yield application
        db.session.remove()


def script_week() -> None:
    alert(at(31, 10), service="nginx", severity="critical", ack_after=2 * MIN, resolve_after=30 * MIN)
    alert(at(32, 10), service="nginx", severity="warning", ack_after=10 * MIN, resolve_after=60 * MIN)
    alert(at(33, 10), service="redis", severity="critical", ack_after=4 * MIN)
    alert(at(24, 10), service="nginx", severity="critical", ack_after=8 * MIN, resolve_after=20 * MIN)  # W48
    incident(at(31, 11), "sev2", closed_after=90 * MIN)
    for status, version in ((ExecutionStatus.SUCCEEDED, "1.4.2"), (ExecutionStatus.FAILED, "1.4.3")):
        db.session.add(Execution(kind=ExecutionKind.DEPLOY, target="shop-api", args={"env": "prod", "version": version},
                                 plan_digest="x", requested_by="ou_bob", status=status, created_at=at(32, 15)))
    db.session.add(Execution(kind=ExecutionKind.RUN, target="clean-tmp", args={}, plan_digest="x",
                             requested_by="ou_bob", status=ExecutionStatus.SUCCEEDED, created_at=at(33, 9)))
    for tokens_in in (400, 600):
        db.session.add(LLMCall(timestamp=at(34, 9), request_id="r", user_id="ou_bob", provider="ollama",
                               model="qwen3:32b", input_tokens=tokens_in, output_tokens=50, duration_ms=900,
                               status="ok", tags=[]))
    db.session.commit()


def test_the_report_of_a_scripted_week(app: Flask) -> None:
    script_week()
    report = weekly.build(datetime(2026, 11, 29, 16, tzinfo=UTC))
    assert report.week == WEEK and report.alerts == 3
    assert report.alerts_by_severity == {"critical": 2, "warning": 1}
    assert report.alerts_by_service == {"nginx": 2, "redis": 1}
    assert [n for _, n in report.alerts_per_day] == [0, 1, 1, 1, 0, 0, 0]
    assert report.this_week.mtta.durations == [120, 600, 240]
    assert [w.key for w in report.history] == ["2026-W46", "2026-W47", "2026-W48", WEEK]
    assert [(c.detail, c.status) for c in report.deploys] == [("prod 1.4.2", "succeeded"), ("prod 1.4.3", "failed")]
    assert report.outcomes(report.runbooks) == {"succeeded": 1}
    assert (report.model_calls, report.input_tokens, report.output_tokens) == (2, 1000, 100)
    lines = "\n".join(report_lines(report))
    assert "**MTTA** p50 4m · p90 10m (3)" in lines and "**MTTR** p50 30m · p90 1h (2, 1 open)" in lines
    assert "2026-W48: 8m / 20m" in lines and "INC-" in lines and "shop-api prod 1.4.3 failed" in lines


def test_report_is_posted_once_per_chat_after_its_due_time(app: Flask, feishu_server: Any) -> None:
    script_week()
    sunday = datetime(2026, 12, 7, 8, 59, tzinfo=weekly.localtime.zone()).timestamp()  # Mon 08:59 local
    assert post_weekly_reports(sunday) == 0 and feishu_server.messages() == []
    due = sunday + 60
    assert post_weekly_reports(due) == 2
    assert post_weekly_reports(due + 300) == 0  # the next tick finds both sent
    cards = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    assert sorted(m.chat_id for m in cards) == ["oc_leads", "oc_ops"]
    assert all(m.content["header"]["title"]["content"] == f"Weekly ops report {WEEK}" for m in cards)
    assert {p.week for p in db.session.query(ReportPost)} == {WEEK}


def test_a_failed_post_is_retried_with_the_same_uuid(app: Flask, feishu_server: Any) -> None:
    monday = datetime(2026, 12, 7, 9, 1, tzinfo=weekly.localtime.zone()).timestamp()
    feishu_server.fail_next("/open-apis/im/v1/messages", status=400, code=230002, msg="bot not in chat", times=2)
    assert post_weekly_reports(monday) == 0
    assert [m for m in feishu_server.messages() if m.msg_type == "interactive"] == []
    assert post_weekly_reports(monday + 300) == 2
    assert post_weekly_reports(monday + 600) == 0
    posts = {p.chat_id: p for p in db.session.query(ReportPost)}
    assert {c: p.attempts for c, p in posts.items()} == {"oc_ops": 2, "oc_leads": 2}
    cards = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    assert sorted(m.message_id for m in cards) == sorted(p.message_id for p in posts.values())


def test_report_command_and_page(app: Flask) -> None:
    script_week()
    ctx = CommandContext(open_id="ou_carol", role=role_of("ou_carol"), chat_id="oc_ops", chat_type="group")
    reply = dispatch(ctx, f"/report {WEEK}")
    assert reply.card is not None and WEEK in reply.card["header"]["title"]["content"]
    assert "Alerts** 3" in reply.card["body"]["elements"][0]["content"]
    assert "expected a week" in (dispatch(ctx, "/report last-week").text or "")
    assert "has not started" in (dispatch(ctx, "/report 2099-W01").text or "")
    from app.inventory.schema import Role
    from tests.web.admin.helpers import make_account, sign_in

    make_account("viewer", Role.USER)
    client = app.test_client()
    sign_in(client, "viewer")
    page = client.get(f"/admin/reports/{WEEK}")
    assert page.status_code == 200 and "shop-api" in page.get_data(as_text=True)
    chart = client.get(f"/admin/reports/{WEEK}/chart.png")
    assert chart.status_code == 200 and chart.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/admin/reports/nonsense").status_code == 400
    assert client.get("/admin/reports").status_code == 302


def test_the_posted_card_carries_the_chart_uploaded_with_the_image_api(app: Flask, feishu_server: Any) -> None:
    script_week()
    monday = datetime(2026, 12, 7, 9, 1, tzinfo=weekly.localtime.zone()).timestamp()
    assert post_weekly_reports(monday) == 2
    cards = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    keys = {e["img_key"] for m in cards for e in m.content["body"]["elements"] if e.get("tag") == "img"}
    assert len(keys) == 1  # one chart uploaded, shown on both chats' cards
    (image,) = [feishu_server.images[k] for k in keys]
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n" and (image.width, image.height) == (800, 300)
    assert {p.image_key for p in db.session.query(ReportPost)} == keys
