"""Cards and health grading: pure functions over plain values."""
from __future__ import annotations

import json

from app.automation import cards
from app.automation.health import HostHealth, grade, parse_probe

PROBE_OUTPUT = """12345.67 2345.10
0.50 0.40 0.30 1/234 5678
MemTotal:       16000000 kB
MemFree:         1000000 kB
MemAvailable:    8000000 kB
4
Filesystem     1024-blocks      Used Available Capacity Mounted on
/dev/sda1        100000000  93000000   7000000      93% /
cpu  1000 0 1000 8000 0 0 0 0 0 0
cpu  1100 0 1100 8200 0 0 0 0 0 0
"""


def view(**overrides: object) -> cards.ExecutionView:
    values: dict[str, object] = {"id": 7, "kind": "deploy", "target": "deploy shop-api prod", "status": "running",
                                 "requested_by": "ou_bob", "steps": ("1. run on web-01: deployer shop-api 1.0",
                                                                     "2. check on web-01: systemctl is-active x")}
    values.update(overrides)
    return cards.ExecutionView(**values)  # type: ignore[arg-type]


def test_probe_output_is_parsed() -> None:
    health = parse_probe(PROBE_OUTPUT)
    assert health.cpus == 4 and health.load == (0.5, 0.4, 0.3)
    assert round(health.memory_percent) == 50 and health.disk_percent == 93
    assert round(health.cpu_percent or 0) == 50  # 200 busy of 400 jiffies


def test_grades_follow_the_worst_figure() -> None:
    calm = HostHealth(1, (0.1, 0.1, 0.1), 4, 10, 20, 30)
    assert grade(calm) == "green"
    assert grade(HostHealth(1, (0.1, 0.1, 0.1), 4, 10, 85, 30)) == "amber"
    assert grade(parse_probe(PROBE_OUTPUT)) == "red"  # disk 93%
    assert grade(None) == "red"  # unreachable


def test_approval_card_shows_what_will_run_and_both_buttons() -> None:
    card = cards.approval_card(view(status="awaiting_approval", expires_at="2026-11-21 10:30 UTC"), "Bob")
    text = json.dumps(card, ensure_ascii=False)
    assert card["schema"] == "2.0" and card["config"]["update_multi"] is True
    assert "deployer shop-api 1.0" in text and "Bob" in text and "10:30" in text
    values = [b["behaviors"][0]["value"] for c in card["body"]["elements"][-1]["columns"] for b in c["elements"]]
    assert values == [{"action": "deploy.approve", "execution_id": 7}, {"action": "deploy.reject", "execution_id": 7}]


def test_progress_card_marks_steps_and_offers_cancel_while_running() -> None:
    lines = [cards.HostLine("1. run", "web-01", "ok", 0, "deployed")]
    card = cards.progress_card(view(), lines, requester_name="Bob")
    text = json.dumps(card, ensure_ascii=False)
    assert "✅ web-01" in text and "⏳ running" in text and "execution.cancel" in text


def test_failed_card_is_red_with_an_excerpt_and_no_cancel() -> None:
    lines = [cards.HostLine("1. run", "web-01", "failed", 1, "boom\n" * 3 + "```injected")]
    card = cards.progress_card(view(status="failed", summary="step failed", duration_ms=1500), lines)
    text = json.dumps(card, ensure_ascii=False)
    assert card["header"]["template"] == "red"
    assert "boom" in text and "execution.cancel" not in text and "took 1.5s" in text
    assert "```injected" not in text  # fences in output cannot break out of the code block


def test_markdown_specials_in_names_are_escaped() -> None:
    assert cards.escape("<at id=all></at> **x**") == "\uff1cat id=all>\uff1c/at> \\*\\*x\\*\\*"
    assert "&#" not in cards.escape("known_hosts <b> *x*")  # markdown escapes, not HTML entities


def test_status_card_colour_is_the_worst_host() -> None:
    rows = [cards.StatusRow("a", "green", "ok"), cards.StatusRow("b", "amber", "busy")]
    assert cards.status_card("all hosts", rows)["header"]["template"] == "orange"
