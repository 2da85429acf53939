"""Feishu card JSON (schema 2.0 and 1.0) rendered as plain, safe HTML for the console page."""
from __future__ import annotations

import html
import re
from typing import Any

from markupsafe import Markup, escape

_TEMPLATES = {"red", "orange", "yellow", "green", "blue", "grey", "turquoise", "purple", "wathet", "indigo"}
_TOKEN = re.compile(r"\*\*(?P<bold>.+?)\*\*|`(?P<code>[^`\n]+)`")
_FONT = re.compile(r"</?font[^>]*>", re.IGNORECASE)
_AT = re.compile(r"<at (?:id|ids|email)=([^>]*)></at>", re.IGNORECASE)
_FENCE = re.compile(r"```[a-z]*\n?(.*?)```", re.DOTALL)
_MAX_DEPTH = 12
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # a markdown backslash escape (app.feishu.markdown.escape)
_HELD = 0xE000  # escaped characters wait in the private use area while bold/code are found


def _text(node: Any) -> str:
    """The words of a text object ({"content": ...} or a plain string)."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        return str(node.get("content") or node.get("text") or "")
    return ""


def markdown(content: str) -> Markup:
    """The little markdown cards use: fences, **bold**, `code`, line breaks; everything else escaped."""
    parts: list[str] = []
    last = 0
    for fence in _FENCE.finditer(content):
        parts.append(_inline(content[last:fence.start()]))
        parts.append(f"<pre>{escape(fence.group(1).rstrip())}</pre>")
        last = fence.end()
    parts.append(_inline(content[last:]))
    return Markup("".join(parts))


_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a markdown backslash escape (app/feishu/markdown.py)


def _plain(text: str) -> str:
    """Card text between markup: markdown escapes and entities decoded (cards use them for literal
    specials), then HTML-escaped."""
    return str(escape(html.unescape(_MD_ESCAPE.sub(r"\1", text))))


def _inline(text: str) -> str:
    text = _FONT.sub("", text)
    text = _AT.sub(lambda m: "@" + m.group(1).strip("\"'"), text)
    parts: list[str] = []
    last = 0
    for token in _TOKEN.finditer(text):
        parts.append(_plain(text[last:token.start()]))
        if token.group("bold") is not None:
            parts.append(f"<strong>{_plain(token.group('bold'))}</strong>")
        else:
            parts.append(f"<code>{_plain(token.group('code'))}</code>")
        last = token.end()
    parts.append(_plain(text[last:]))
    return "".join(parts).replace("\n", "<br>")


def _element(node: Any, depth: int) -> str:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return ""
    tag = node.get("tag")
    if tag in ("markdown", "lark_md"):
        return f'<div class="md">{markdown(_text(node))}</div>'
    if tag == "div":
        inner = markdown(_text(node.get("text")))
        fields = "".join(f'<div class="field">{markdown(_text(f.get("text")))}</div>'
                         for f in node.get("fields") or [] if isinstance(f, dict))
        return f'<div class="md">{inner}{fields}</div>'
    if tag == "hr":
        return "<hr>"
    if tag == "note":
        return "".join(f'<p class="muted">{escape(_text(e))}</p>' for e in node.get("elements") or [])
    if tag == "button":
        return f'<span class="card-button">{escape(_text(node.get("text")))}</span>'
    if tag == "action":
        return _children(node.get("actions"), depth)
    if tag == "column_set":
        columns = "".join(f'<div class="col">{_children(c.get("elements"), depth + 1)}</div>'
                          for c in node.get("columns") or [] if isinstance(c, dict))
        return f'<div class="cols">{columns}</div>'
    if tag == "collapsible_panel":
        title = escape(_text((node.get("header") or {}).get("title")))
        return f"<details><summary>{title}</summary>{_children(node.get('elements'), depth + 1)}</details>"
    if tag == "table":
        return _table(node)
    if tag == "plain_text":
        return f"<p>{escape(_text(node))}</p>"
    if tag == "form":
        return _children(node.get("elements"), depth + 1)
    if tag in ("input", "select_static"):
        return f'<span class="card-button">{escape(_text(node.get("placeholder")) or tag)}</span>'
    return ""


def _table(node: dict[str, Any]) -> str:
    columns = [c for c in node.get("columns") or [] if isinstance(c, dict)]
    head = "".join(f"<th>{escape(c.get('display_name') or c.get('name') or '')}</th>" for c in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(str(row.get(c.get('name'), '')))}</td>" for c in columns) + "</tr>"
        for row in node.get("rows") or [] if isinstance(row, dict)
    )
    return f'<table class="list"><tr>{head}</tr>{rows}</table>'


def _children(nodes: Any, depth: int) -> str:
    return "".join(_element(n, depth + 1) for n in nodes or [] if isinstance(n, dict))


def render_card(card: dict[str, Any]) -> Markup:
    """A card as HTML: coloured header, then its elements in order; unknown elements are skipped."""
    header = card.get("header") or {}
    template = header.get("template") if header.get("template") in _TEMPLATES else "grey"
    title = escape(_text(header.get("title")))
    elements = (card.get("body") or {}).get("elements") if "body" in card else card.get("elements")
    body = _children(elements, 0)
    head = f'<div class="card-head t-{template}">{title}</div>' if title else ""
    return Markup(f'<div class="card">{head}<div class="card-body">{body}</div></div>')
