"""From stored alert to Feishu: routes, cards, buzzes, card refreshes, storms, silences."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from app.alerts import service
from app.alerts.models import NotifyState
from app.alerts.oncall import person_at
from app.alerts.tasks import tick
from app.infra.db import utcnow
from app.inventory import get_inventory
from tests.alerts.conftest import (
    all_alerts,
    am_alert,
    am_payload,
    cards_to,
    fixture,
    generic_alert,
    post_am,
    post_generic,
)

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode


def test_critical_alert_gets_one_red_card_and_buzzes_the_on_call(app: Flask, client: Any, drain: Any,
                                                                 feishu_server: Any) -> None:
    post_am(client, fixture("firing.json"))
    drain()
    cards = cards_to(feishu_server)
    assert len(cards) == 2
    critical = next(c for c in cards if "critical" in c.content["header"]["subtitle"]["content"])
    assert critical.content["header"]["template"] == "red"
    text = str(critical.content)
    assert "HighCPU on web-01" in text and "<at id=ou_bob></at>" in text  # nginx owner
    assert "https://wiki.example/runbooks/cpu" in text
    on_call = person_at(get_inventory().oncall["platform"], utcnow())
    assert feishu_server.buzzes == [(critical.message_id, "app", [on_call])]
    alert = all_alerts()[0]
    assert alert.card_message_id == critical.message_id and alert.notify_state == NotifyState.SENT
    assert alert.schedule == "platform" and alert.next_escalation_at is not None


def test_repeats_do_not_notify_and_the_card_count_is_refreshed_once(app: Flask, client: Any, drain: Any,
                                                                    feishu_server: Any) -> None:
    payload = am_payload(am_alert(severity="warning"))
    post_am(client, payload)
    drain()
    for _ in range(5):
        post_am(client, payload)
    drain()
    (card,) = cards_to(feishu_server)
    assert card.updates == []
    later = utcnow() + timedelta(seconds=10)
    tick(later)
    tick(later + timedelta(seconds=1))
    assert len(card.updates) == 1 and "**Count** 6" in str(card.updates[0])


def test_resolved_alert_turns_its_card_green(app: Flask, client: Any, drain: Any, feishu_server: Any) -> None:
    post_am(client, am_payload(am_alert(severity="warning")))
    drain()
    post_am(client, am_payload(am_alert(severity="warning", status="resolved")))
    drain()
    (card,) = cards_to(feishu_server)
    assert card.updates[-1]["header"]["template"] == "green"
    assert "[RESOLVED]" in card.updates[-1]["header"]["title"]["content"]
    assert not all_alerts()[0].card_stale


def test_alert_storm_becomes_one_summary_card(app: Flask, client: Any, drain: Any, feishu_server: Any) -> None:
    storm = [am_alert(f"Storm{i}", severity="warning", fingerprint=f"{i:016x}") for i in range(12)]
    post_am(client, am_payload(*storm))
    drain()
    cards = cards_to(feishu_server)
    threshold = app.config["ALERT_STORM_THRESHOLD"]
    assert len(cards) == threshold  # threshold - 1 cards of their own, then the summary
    summary = next(c for c in cards if c.content["header"]["title"]["content"].startswith("Alert storm"))
    tick(utcnow() + timedelta(seconds=1))
    listed = str(summary.updates[-1])
    assert all(f"Storm{i}" in listed for i in range(threshold - 1, 12))
    assert "Alert storm: 12 alerts" in listed
    grouped = [a for a in all_alerts() if a.notify_state == NotifyState.GROUPED]
    assert len(grouped) == 12 - threshold + 1 and {a.card_message_id for a in grouped} == {summary.message_id}
    post_am(client, am_payload({**storm[-1], "status": "resolved", "endsAt": "2026-11-21T10:30:00Z"}))
    drain()
    assert "✅ #" in str(summary.updates[-1]) and len(cards_to(feishu_server)) == threshold


def test_silence_suppresses_notifications_until_it_expires(app: Flask, client: Any, drain: Any,
                                                           feishu_server: Any) -> None:
    silence = service.create_silence(matchers={"alertname": "HighCPU", "host": "web-01"}, seconds=3600,
                                     actor="ou_bob")
    post_am(client, am_payload(am_alert(severity="warning")))
    post_am(client, am_payload(am_alert("Other", severity="warning")))
    drain()
    assert [a.notify_state for a in all_alerts()] == [NotifyState.SILENCED, NotifyState.SENT]
    assert len(cards_to(feishu_server)) == 1
    service.remove_silence(silence_id=silence.id, actor="ou_bob")
    post_am(client, am_payload(am_alert(severity="warning", status="resolved")))
    post_am(client, am_payload(am_alert(severity="warning")))
    drain()
    assert len(cards_to(feishu_server)) == 2


def test_info_alerts_follow_the_log_route(app: Flask, client: Any, drain: Any, feishu_server: Any) -> None:
    post_generic(client, generic_alert(severity="info"))
    drain()
    assert all_alerts()[0].notify_state == NotifyState.LOGGED
    assert cards_to(feishu_server) == []


def test_links_and_text_from_the_alert_cannot_inject_markup_or_mentions(app: Flask, client: Any, drain: Any,
                                                                       feishu_server: Any) -> None:
    """Whoever holds the webhook token writes the summary and both links of the card."""
    hostile = am_alert("DiskFull", severity="critical")
    hostile["annotations"] = {"summary": "disk full <at id=all></at> **urgent** [login](https://phish.example)",
                              "runbook_url": "javascript:alert(document.cookie)"}
    hostile["generatorURL"] = "lark://applink.feishu.cn/client/op/open"
    honest = am_alert("HighCPU", severity="critical", host="web-02")
    honest["annotations"] = {"summary": "cpu", "runbook_url": "https://wiki.example/runbooks/cpu (high)"}
    assert post_am(client, am_payload(hostile, honest)).status_code == 200
    drain()
    cards = sorted(cards_to(feishu_server), key=lambda card: "HighCPU" in str(card.content))
    first, second = ["\n".join(e["content"] for e in card.content["body"]["elements"] if e["tag"] == "markdown")
                     for card in cards]
    assert first.startswith("disk full \uff1cat id=all>\uff1c/at> \\*\\*urgent\\*\\* \\[login\\](https://phish")
    assert "<at id=all>" not in first and "javascript:" not in first and "lark://" not in first
    assert "**Runbook** heal\n" in first and "**Source** alertmanager" in first  # the words stay, not the links
    assert "[runbook](https://wiki.example/runbooks/cpu%20%28high%29)" in second
