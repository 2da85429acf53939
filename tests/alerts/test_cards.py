"""Pure card builders: colours by severity and state, escaping, the storm summary."""
from __future__ import annotations

from datetime import UTC, datetime

from app.alerts.cards import MAX_LISTED, CardView, alert_card, escape, summary_card
from app.alerts.enrich import Context
from app.alerts.models import Alert

WHEN = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def alert(**fields: object) -> Alert:
    values: dict[str, object] = {
        "id": 7, "fingerprint": "am:1", "source": "alertmanager", "alertname": "DiskFull", "severity": "critical",
        "status": "firing", "host": "web-01", "summary": "disk *full* <b>", "labels": {}, "annotations": {},
        "starts_at": WHEN, "last_seen": WHEN, "count": 3, "escalation_log": [],
    }
    values.update(fields)
    return Alert(**values)


VIEW = CardView(context=Context(host_tags=("web",), service="nginx", owners=("ou_bob",)), public_url="https://oc")


def test_colour_follows_severity_then_state() -> None:
    colours = [alert_card(alert(severity=s), VIEW)["header"]["template"] for s in ("critical", "warning", "info")]
    assert colours == ["red", "orange", "blue"]
    assert alert_card(alert(status="acknowledged", acked_by="ou_bob", acked_at=WHEN), VIEW)["header"]["template"] == "wathet"
    resolved = alert_card(alert(status="resolved", resolved_at=WHEN), VIEW)
    assert resolved["header"]["template"] == "green" and resolved["schema"] == "2.0"


def test_source_text_is_escaped_and_facts_are_shown() -> None:
    card = alert_card(alert(), VIEW)
    text = str(card["body"]["elements"])
    assert card["body"]["elements"][0]["content"] == "disk \\*full\\* \uff1cb>" and "<b>" not in text
    assert "**Count** 3" in text and "web-01 (web) · service nginx" in text and "<at id=ou_bob></at>" in text
    assert escape("a_b [c] _x_") == "a_b \\[c\\] \\_x\\_"


def test_resolved_card_keeps_only_the_links() -> None:
    card = alert_card(alert(status="resolved", resolved_at=WHEN), VIEW)
    buttons = [c["elements"][0]["text"]["content"] for e in card["body"]["elements"] for c in e.get("columns", [])]
    assert buttons == ["Host status", "Open in admin"]


def test_summary_card_lists_a_storm_and_truncates() -> None:
    alerts = [alert(id=i, alertname=f"A{i}", severity="warning") for i in range(MAX_LISTED + 5)]
    card = summary_card(alerts, public_url="https://oc", storm_size=MAX_LISTED + 9, individual=4,
                        since=datetime(2026, 11, 21, 10, 0, 5, tzinfo=UTC))
    text = card["body"]["elements"][0]["content"]
    assert card["header"]["template"] == "orange" and "#0 **A0 on web-01**" in text
    assert "… and 5 more" in text and f"{MAX_LISTED + 9} alerts since 10:00:05 UTC" in card["header"]["title"]["content"]
    assert "The first 4 have cards of their own" in str(card["body"]["elements"][1])
