"""/alert and /oncall through dispatch(), as the router runs them."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from flask import Flask

from app.alerts import service
from app.alerts.oncall import on_call, person_at
from app.alerts.types import AlertStatus
from app.chat.registry import dispatch
from app.chat.types import CommandContext
from app.infra.db import utcnow
from app.inventory import get_inventory
from app.users.service import role_of
from tests.alerts.conftest import all_alerts, am_alert, am_payload, generic_alert, post_am, post_generic

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode


def say(text: str, open_id: str = "ou_bob") -> str:
    reply = dispatch(CommandContext(open_id=open_id, role=role_of(open_id), chat_id="oc_ops"), text)
    assert reply.text is not None
    return reply.text


def test_alert_list_by_severity_for_any_user(app: Flask, client: Any) -> None:
    post_am(client, am_payload(am_alert(), am_alert("DiskFull", severity="warning")))
    listing = say("/alert list", open_id="ou_stranger")
    assert "HighCPU on web-01" in listing and "DiskFull on web-01" in listing
    only = say("/alert list warning", open_id="ou_stranger")
    assert "DiskFull" in only and "HighCPU" not in only
    assert "must be one of" in say("/alert list urgent")
    assert say("/alert list info") == "No open alerts of severity info."


def test_alert_ack_and_resolve_need_the_operator_role(app: Flask, client: Any, drain: Any) -> None:
    post_am(client, am_payload(am_alert()))
    alert_id = all_alerts()[0].id
    assert "needs the operator role" in say(f"/alert ack {alert_id}", open_id="ou_carol")
    assert say(f"/alert ack {alert_id}").startswith(f"Acknowledged #{alert_id}")
    assert "already acknowledged" in say(f"/alert ack {alert_id}")
    assert say(f"/alert resolve {alert_id}").startswith(f"Resolved #{alert_id}")
    assert all_alerts()[0].status == AlertStatus.RESOLVED
    assert say("/alert ack 999") == "No alert #999."
    assert "Usage: /alert ack ID" in say("/alert ack x")


def test_silence_list_and_remove_from_chat(app: Flask, client: Any, drain: Any) -> None:
    answer = say("/alert silence alertname=DiskFull,host=web-01 2h")
    assert answer.startswith("Silenced alertname=DiskFull,host=web-01 for 2h (#")
    (silence,) = service.active_silences()
    assert silence.ends_at - silence.created_at == timedelta(hours=2)
    assert f"#{silence.id} alertname=DiskFull,host=web-01 until" in say("/alert silences")
    assert "bad matcher" in say("/alert silence alertname~Disk 1h")
    assert "not a duration" in say("/alert silence alertname=X forever")
    assert "needs the operator role" in say("/alert silences", open_id="ou_carol")
    post_generic(client, generic_alert("DiskFull"))
    drain()
    assert all_alerts()[0].notify_state == "silenced"
    assert say(f"/alert unsilence {silence.id}").startswith(f"Silence #{silence.id}")
    assert say("/alert silences") == "No active silences."
    assert say(f"/alert unsilence {silence.id}") == f"No active silence #{silence.id}."


def test_a_silence_ends_on_its_own_and_cannot_be_removed_afterwards(app: Flask) -> None:
    from app.alerts.errors import SilenceNotFound

    start = utcnow()
    silence = service.create_silence(matchers={"alertname": "DiskFull"}, seconds=3600, actor="ou_bob", now=start)
    labels = {"alertname": "DiskFull", "host": "web-01"}
    in_force = service.silence_for(labels, start + timedelta(minutes=59))
    assert in_force is not None and in_force.id == silence.id
    assert service.silence_for(labels, start + timedelta(minutes=61)) is None
    with pytest.raises(SilenceNotFound):
        service.remove_silence(silence_id=silence.id, actor="ou_bob", now=start + timedelta(minutes=61))
    removed = service.remove_silence(silence_id=silence.id, actor="ou_alice", now=start + timedelta(minutes=30))
    assert removed.removed_by == "ou_alice" and removed.removed_at == start + timedelta(minutes=30)
    assert service.active_silences(start + timedelta(minutes=31)) == []


def test_oncall_says_who_is_on_call_now_and_next(app: Flask) -> None:
    schedule = get_inventory().oncall["platform"]
    now = utcnow()
    names = {"ou_bob": "Bob", "ou_alice": "Alice"}
    answer = say("/oncall", open_id="ou_stranger")
    assert answer.startswith(f"platform: now {names[person_at(schedule, now)]}, next {names[person_at(schedule, now, 1)]}")
    assert say("/oncall platform") == answer
    assert "No on-call schedule 'nope'" in say("/oncall nope")


SHANGHAI = ZoneInfo("Asia/Shanghai")
EPOCH = datetime(2024, 1, 1, tzinfo=SHANGHAI)  # a Monday, local midnight


def test_rotation_is_computed_from_the_epoch() -> None:
    from app.inventory.schema import Schedule

    weekly = Schedule(members=["ou_a", "ou_b", "ou_c"], rotation="weekly")
    daily = Schedule(members=["ou_a", "ou_b"], rotation="daily")
    assert [person_at(weekly, EPOCH + timedelta(days=7 * w + 3)) for w in range(4)] == ["ou_a", "ou_b", "ou_c", "ou_a"]
    assert person_at(daily, EPOCH + timedelta(days=1, hours=23)) == "ou_b"
    shift = on_call("p", weekly, EPOCH + timedelta(days=8))
    assert (shift.now, shift.next, shift.shift_ends) == ("ou_b", "ou_c", EPOCH + timedelta(days=14))


@pytest.mark.parametrize(("zone", "handover_utc"), [
    ("Asia/Shanghai", datetime(2026, 12, 6, 16, 0, tzinfo=UTC)),  # Monday 00:00 +08:00
    ("UTC", datetime(2026, 12, 7, 0, 0, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 12, 7, 5, 0, tzinfo=UTC)),  # EST, -05:00
])
def test_rotation_hands_over_at_local_midnight(zone: str, handover_utc: datetime) -> None:
    from flask import Flask

    from app.inventory.schema import Schedule

    weekly = Schedule(members=["ou_a", "ou_b", "ou_c"], rotation="weekly")
    daily = Schedule(members=["ou_a", "ou_b"], rotation="daily")
    app = Flask(__name__)
    app.config["TIMEZONE"] = zone
    with app.app_context():
        before, after = handover_utc - timedelta(seconds=1), handover_utc
        assert person_at(weekly, after) == person_at(weekly, before, 1) != person_at(weekly, before)
        assert person_at(daily, after) != person_at(daily, before)
        assert on_call("p", weekly, before).shift_ends == handover_utc
        assert on_call("p", daily, before).shift_ends == handover_utc
