"""The console's card renderer: readable HTML from card JSON, never raw markup from the card."""
from __future__ import annotations

from app.automation.cards import StatusRow, status_card
from app.web.admin.cards import render_card


def test_a_status_card_renders_its_title_colour_and_rows() -> None:
    card = status_card("web", [StatusRow(host="web-01", grade="red", detail="load 9.1", unit="nginx.service")])
    html = render_card(card)
    assert '<div class="card-head t-red">Status: web</div>' in html
    assert "<strong>web-01</strong>" in html and "load 9.1" in html and "<strong>nginx.service</strong>" in html


def test_buttons_columns_panels_and_code_are_shown_and_markup_is_escaped() -> None:
    card = {
        "schema": "2.0",
        "header": {"title": {"tag": "plain_text", "content": "<script>x</script>"}, "template": "javascript:"},
        "body": {"elements": [
            {"tag": "markdown", "content": "**bold** and `code`\n```\n<img src=x onerror=alert(1)>\n```"},
            {"tag": "column_set", "columns": [{"tag": "column", "elements": [
                {"tag": "button", "text": {"tag": "plain_text", "content": "Acknowledge"}}]}]},
            {"tag": "collapsible_panel", "header": {"title": {"content": "Output"}},
             "elements": [{"tag": "markdown", "content": "inside"}]},
            {"tag": "hr"},
            {"tag": "unknown_widget", "content": "ignored"},
        ]},
    }
    html = str(render_card(card))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'class="card-head t-grey"' in html  # an unknown template colour falls back to grey
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert '<span class="card-button">Acknowledge</span>' in html
    assert "<details><summary>Output</summary>" in html and "inside" in html
    assert "<hr>" in html and "ignored" not in html


def test_markdown_escapes_show_the_plain_character_and_never_format() -> None:
    from app.feishu.markdown import escape

    html = str(render_card({"schema": "2.0", "body": {"elements": [
        {"tag": "markdown", "content": f"**{escape('known_hosts **not bold** `x`')}**"}]}}))
    assert "<strong>known_hosts **not bold** `x`</strong>" in html and "\\" not in html and "&#" not in html
