"""Feishu card JSON (schema 2.0 and 1.0) as readable terminal text, for `flask chat`.

Title first, then each element: markdown without its markup (bold, code, font
colours, HTML entities), notes, fields, and buttons as `[Approve] [Reject]`.
`flask chat --json` prints the raw card instead.
"""
from __future__ import annotations

import html
import re
from typing import Any

_MAX_DEPTH = 12
_FONT = re.compile(r"</?font[^>]*>", re.IGNORECASE)
_AT = re.compile(r"<at (?:id|ids|email)=([^>]*)></at>", re.IGNORECASE)
_LINK = re.compile(r"\[([^\]\n]+)\]\((\S+?)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"```[a-z]*\n?(.*?)```", re.DOTALL)
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a markdown backslash escape (app/feishu/markdown.py)


def _text(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        return str(node.get("content") or node.get("text") or "")
    return ""


def _inline(text: str) -> str:
    text = _FONT.sub("", text)
    text = _AT.sub(lambda m: "@" + m.group(1).strip("\"'"), text)
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = _BOLD.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    return html.unescape(_MD_ESCAPE.sub(r"\1", text))


def plain_markdown(content: str) -> str:
    """Card markdown as the words a reader sees; fenced blocks kept, indented."""
    parts: list[str] = []
    last = 0
    for fence in _FENCE.finditer(content):
        parts.append(_inline(content[last:fence.start()]))
        block = fence.group(1).rstrip("\n")
        parts.append("\n".join("    " + line for line in block.splitlines()) + "\n")
        last = fence.end()
    parts.append(_inline(content[last:]))
    return "".join(parts).strip("\n")


def _buttons(nodes: list[Any]) -> list[str]:
    return [f"[{_text(n.get('text')).strip()}]" for n in nodes if isinstance(n, dict) and n.get("tag") == "button"]


def _collect_buttons(node: Any, depth: int) -> list[str] | None:
    """The labels of a column_set/action made only of buttons, else None."""
    if depth > _MAX_DEPTH or not isinstance(node, dict):
        return None
    if node.get("tag") == "button":
        return _buttons([node])
    children: list[Any] = []
    if node.get("tag") == "column_set":
        for column in node.get("columns") or []:
            if isinstance(column, dict):
                children.extend(column.get("elements") or [])
    elif node.get("tag") == "action":
        children = list(node.get("actions") or [])
    else:
        return None
    labels: list[str] = []
    for child in children:
        found = _collect_buttons(child, depth + 1)
        if found is None:
            return None
        labels.extend(found)
    return labels


def _element(node: Any, depth: int) -> list[str]:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return []
    tag = node.get("tag")
    buttons = _collect_buttons(node, depth)
    if buttons is not None:
        return [" ".join(buttons)] if buttons else []
    if tag in ("markdown", "lark_md"):
        return [plain_markdown(_text(node))]
    if tag == "div":
        lines = [plain_markdown(_text(node.get("text")))] if _text(node.get("text")) else []
        lines += [plain_markdown(_text(f.get("text"))) for f in node.get("fields") or [] if isinstance(f, dict)]
        return lines
    if tag == "plain_text":
        return [_text(node)]
    if tag == "hr":
        return ["---"]
    if tag == "note":
        return [_text(e) for e in node.get("elements") or [] if isinstance(e, dict)]
    if tag == "column_set":
        return [line for c in node.get("columns") or [] if isinstance(c, dict)
                for line in _children(c.get("elements"), depth + 1)]
    if tag in ("form", "collapsible_panel"):
        title = _text((node.get("header") or {}).get("title"))
        return ([title] if title else []) + _children(node.get("elements"), depth + 1)
    if tag == "table":
        columns = [c for c in node.get("columns") or [] if isinstance(c, dict)]
        head = " | ".join(str(c.get("display_name") or c.get("name") or "") for c in columns)
        rows = [" | ".join(str(r.get(c.get("name"), "")) for c in columns)
                for r in node.get("rows") or [] if isinstance(r, dict)]
        return [head, *rows]
    return []


def _children(nodes: Any, depth: int) -> list[str]:
    return [line for n in nodes or [] if isinstance(n, dict) for line in _element(n, depth + 1)]


def card_text(card: dict[str, Any]) -> str:
    """The card as lines of text: `== title ==`, tags, then its elements in order."""
    header = card.get("header") or {}
    title = _text(header.get("title")).strip()
    tags = [_text(t.get("text")) for t in header.get("text_tag_list") or [] if isinstance(t, dict)]
    elements = (card.get("body") or {}).get("elements") if "body" in card else card.get("elements")
    lines = []
    if title:
        lines.append(f"== {title} ==" + (f"  ({', '.join(tags)})" if tags else ""))
    lines += [line for line in _children(elements, 0) if line.strip()]
    return "\n".join(lines)
