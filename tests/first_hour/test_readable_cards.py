"""Items 5 and 6: cards read as text on the console and the web console; no HTML entities leak."""
from __future__ import annotations

import json

from flask import Flask

from app.automation import cards
from app.inbox.card_text import card_text
from app.feishu.markdown import escape
from app.web.admin.cards import render_card
from tests.first_hour.conftest import console


def _approval() -> dict:
    view = cards.ExecutionView(id=7, kind="deploy", target="deploy shop-api prod", status="awaiting_approval",
                               requested_by="ou_bob", steps=("run on web-01: /opt/deploy/shop_api.sh 1.4.2",),
                               expires_at="2026-12-04 18:00 UTC")
    return cards.approval_card(view, "Bob")


def test_a_card_reads_as_title_lines_and_buttons() -> None:
    text = card_text(_approval())
    lines = text.splitlines()
    assert lines[0] == "== Approval needed: deploy shop-api prod =="
    assert "deploy shop-api prod requested by Bob (#7)" in lines
    assert "    run on web-01: /opt/deploy/shop_api.sh 1.4.2" in lines  # the fenced block, indented
    assert "[Approve] [Reject]" in lines
    assert "{" not in text and "**" not in text and "&#" not in text


def test_markdown_escaping_leaves_words_alone_and_still_defuses_syntax() -> None:
    assert escape("config/known_hosts") == "config/known_hosts"
    assert escape("issue #12 and C#") == "issue #12 and C#"
    assert escape("# heading\n  # again\n#12 is an issue", starts_line=True) == \
        "\\# heading\n  \\# again\n#12 is an issue"
    assert escape("_emphasis_ *bold* ~~x~~ `c` [l](u)") == \
        "\\_emphasis\\_ \\*bold\\* \\~\\~x\\~\\~ \\`c\\` \\[l\\](u)"
    assert "<at" not in escape("<at id=all></at>") and "&#" not in escape("a_b & c")


def test_status_card_with_a_missing_key_reads_plainly_everywhere() -> None:
    row = cards.StatusRow("web-01", "red", "known_hosts file config/known_hosts not found; add its key after "
                          "checking the fingerprint: ssh-keyscan -p 22 10.0.0.11 >> config/known_hosts")
    card = cards.status_card("all hosts", [row], note="probed over SSH *now*")
    text = card_text(card)
    assert "🔴 web-01 known_hosts file config/known_hosts not found" in text
    assert "ssh-keyscan -p 22 10.0.0.11 >> config/known_hosts" in text
    assert "probed over SSH *now*" in text  # literal asterisks come back as asterisks
    assert "&#" not in json.dumps(card, ensure_ascii=False).split("probed")[0]  # no entity in the host row
    html = str(render_card(card))
    assert "config/known_hosts" in html and "&amp;#" not in html and "&#95;" not in html
    assert "&gt;&gt; config/known_hosts" in html  # the shell redirect shows as >>, safely escaped
    assert "&lt;font" not in html and "<font" not in html


def test_web_console_keeps_bold_and_code_and_escapes_html() -> None:
    card = {"schema": "2.0", "header": {"title": {"tag": "plain_text", "content": "t"}},
            "body": {"elements": [{"tag": "markdown", "content": "**a_b** `x<y` &lt;script&gt; <at id=ou_bob></at>"}]}}
    html = str(render_card(card))
    assert "<strong>a_b</strong>" in html and "<code>x&lt;y</code>" in html
    assert "&lt;script&gt;" in html and "<script>" not in html and "@ou_bob" in html


def test_flask_chat_prints_text_and_raw_json_on_request(embedded_app: Flask) -> None:
    text = console(embedded_app, "--as", "ou_alice", "/status local")
    assert text.exit_code == 0, text.output
    assert text.output.startswith("== Status: host local ==")
    assert '"schema"' not in text.output
    raw = console(embedded_app, "--as", "ou_alice", "--json", "/status local")
    assert raw.exit_code == 0
    assert json.loads(raw.output)["header"]["title"]["content"] == "Status: host local"
