"""The one card-markdown helper: literal text, http(s) links only, never a mention, no HTML entities."""
from __future__ import annotations

import pytest

from app.feishu.markdown import code_safe, escape, link, safe_url, sanitize, unescape

MENTIONS = ["<at id=all></at>", "<AT id=all></AT>", "< at id=ou_x></at>", "<at email=a@b.c></at>", "<at ids=a,b></at>"]


@pytest.mark.parametrize("mention", MENTIONS)
def test_no_text_can_produce_a_mention(mention: str) -> None:
    for made in (escape(mention), sanitize(mention), sanitize(f"```\n{mention}\n```"), code_safe(mention),
                 link(mention, "https://x.example/")):
        compact = made.lower().replace(" ", "")
        assert "<at" not in compact and "</at" not in compact


def test_literal_text_is_escaped_with_markdown_escapes_only_where_markup_could_start() -> None:
    assert escape("known_hosts ~/.ssh a < b 5-3 C:\\dir") == "known_hosts ~/.ssh a < b 5-3 C:\\dir"  # unchanged
    assert escape("**bold** _em_ `code` ~~s~~ [x](y)") == "\\*\\*bold\\*\\* \\_em\\_ \\`code\\` \\~\\~s\\~\\~ \\[x\\](y)"
    assert escape("# title\n- item\n2. two\n> quote", starts_line=True) == "\\# title\n\\- item\n2\\. two\n\\> quote"
    assert escape("1. run") == "1. run" and escape("1. run\n2. check") == "1. run\n2\\. check"  # inside a line
    assert escape("<font color=red>x</font> &lt;at&gt;") == "\uff1cfont color=red>x\uff1c/font> \\&lt;at\\&gt;"
    assert "&#" not in escape("<>*_`[]#~&|") and "&amp;" not in escape("a & b")


@pytest.mark.parametrize("text", ["known_hosts", "**x** _y_ `z` [a](b)", "# h\n1. x", "C:\\dir \\* a\\b", "~~s~~"])
def test_unescape_gives_back_the_text(text: str) -> None:
    assert unescape(escape(text)) == text


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "lark://applink/x", "file:///etc/passwd",
                                 "data:text/html,x", "//evil.example/x", "http:///x", "http://x\n.example", "", None,
                                 "vbscript:x", "https:\\\\evil.example"])
def test_only_absolute_http_links_are_allowed(url: str | None) -> None:
    assert safe_url(url) is None
    assert link("runbook", url) == "runbook"


def test_a_safe_link_cannot_close_its_markdown_early() -> None:
    assert safe_url("https://wiki.example/a b(c)<d>?q=1&r=2#f") == "https://wiki.example/a%20b%28c%29%3Cd%3E?q=1&r=2#f"
    assert link("the *runbook*", "http://wiki.example/x") == "[the \\*runbook\\*](http://wiki.example/x)"


def test_model_markdown_keeps_its_formatting_but_loses_tags_and_unsafe_links() -> None:
    answer = ("**Restart** it <at id=all></at> <font color=red>now</font>: [docs](https://wiki.example/x) "
              "[click](javascript:alert(1)) ![img](img_v2_key)\n```\na <b> c <at id=all></at>\n```")
    clean = sanitize(answer)
    assert clean.startswith("**Restart** it \uff1cat id=all>\uff1c/at> \uff1cfont color=red>now\uff1c/font>")
    assert "[docs](https://wiki.example/x)" in clean and "click" in clean and "javascript" not in clean
    assert "img_v2_key" not in clean and "a <b> c \uff1cat id=all>" in clean  # code stays verbatim but mention-free
