"""Pure text helpers for outbound messages: PII masking, byte-accurate splitting, card fitting."""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

TEXT_LIMIT_BYTES = 150 * 1024  # text message request body (feishu-protocol.md 4.10)
CARD_LIMIT_BYTES = 30 * 1024  # card / post request body
TEXT_TAGS = frozenset({"markdown", "plain_text", "lark_md"})

# A phone number must stand alone: not inside a word, hex id or open_id, and not part of a
# longer number, a decimal, a version or a dashed date.
_BEFORE = r"(?<![0-9A-Za-z_+])(?<![0-9][.\-])"
_AFTER = r"(?![0-9A-Za-z_])(?![.\-][0-9])"
_CN_MOBILE = re.compile(
    _BEFORE + r"(?P<prefix>(?:\+|00)?86[ \-]?)?(?P<number>1[3-9][0-9](?:[ \-]?[0-9]{4}){2})" + _AFTER
)
_INTL_PHONE = re.compile(_BEFORE + r"\+[1-9][0-9]{0,3}(?:[ \-]?(?:\([0-9]{1,4}\)|[0-9]{1,4})){1,6}" + _AFTER)
_EMAIL = re.compile(
    r"(?<!email=)(?<!email=\")(?<![A-Za-z0-9._%+\-])"
    r"(?P<local>[A-Za-z0-9._%+\-]+)@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,})(?![A-Za-z0-9\-])"
)
_NOTE_RESERVE = 64  # bytes kept free for the truncation note and a closing code fence


def _mask_cn(match: re.Match[str]) -> str:
    digits = re.sub(r"[^0-9]", "", match["number"])
    return f"{match['prefix'] or ''}{digits[:3]}****{digits[-4:]}"


def _mask_intl(match: re.Match[str]) -> str:
    number = match[0]
    total = sum(ch.isdigit() for ch in number)
    if not 8 <= total <= 15:  # E.164 numbers; shorter runs are offsets, counts, ports
        return number
    out, seen = [], 0
    for ch in number:  # keep the layout, the first two digits and the last four
        if ch.isdigit():
            seen += 1
            ch = ch if seen <= 2 or seen > total - 4 else "*"
        out.append(ch)
    return "".join(out)


def _mask_email(match: re.Match[str]) -> str:
    return f"{match['local'][0]}***@{match['domain']}"


def mask_pii(text: str) -> str:
    """Mask e-mail addresses and phone numbers (a***@example.com, 138****5678); idempotent."""
    text = _EMAIL.sub(_mask_email, text)
    text = _CN_MOBILE.sub(_mask_cn, text)
    return _INTL_PHONE.sub(_mask_intl, text)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut_line(line: str, limit_bytes: int) -> list[str]:
    """Cut one over-long line into pieces of at most limit_bytes, at a space when one is near."""
    pieces: list[str] = []
    rest = line
    while _utf8_len(rest) > limit_bytes:
        head = rest.encode("utf-8")[:limit_bytes].decode("utf-8", errors="ignore")
        space = head.rfind(" ")
        if space >= len(head) // 2:
            head = head[: space + 1]
        pieces.append(head)
        rest = rest[len(head):]
    if rest:
        pieces.append(rest)
    return pieces


def split_text(text: str, limit_bytes: int) -> list[str]:
    """Split text into pieces of at most limit_bytes UTF-8 bytes, at line ends where possible.

    Lossless: "".join(pieces) == text; no piece is empty and no character is cut.
    """
    if limit_bytes < 4:
        raise ValueError("limit_bytes must hold at least one UTF-8 character (4 bytes)")
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if _utf8_len(current) + _utf8_len(line) <= limit_bytes:
            current += line
            continue
        if current:
            pieces.append(current)
        parts = _cut_line(line, limit_bytes)
        pieces.extend(parts[:-1])
        current = parts[-1]
    if current:
        pieces.append(current)
    return pieces


def text_nodes(card: Any) -> Iterator[dict[str, Any]]:
    """Every text object (markdown, plain_text, lark_md with string content) inside a card."""
    if isinstance(card, dict):
        if card.get("tag") in TEXT_TAGS and isinstance(card.get("content"), str):
            yield card
        for value in card.values():
            yield from text_nodes(value)
    elif isinstance(card, list):
        for value in card:
            yield from text_nodes(value)


def mask_card(card: dict[str, Any]) -> dict[str, Any]:
    """A copy of the card with mask_pii applied to every text object (not to URLs or values)."""
    masked = copy.deepcopy(card)
    for node in text_nodes(masked):
        node["content"] = mask_pii(node["content"])
    return masked


def card_size(card: dict[str, Any]) -> int:
    """Bytes of the card serialised as Feishu receives it."""
    return _utf8_len(json.dumps(card, ensure_ascii=False))


def _json_len(text: str) -> int:
    """Bytes the string takes inside serialised JSON, without its quotes."""
    return _utf8_len(json.dumps(text, ensure_ascii=False)) - 2


def _chars_within(text: str, budget: int) -> int:
    """Largest k such that text[:k] takes at most budget bytes inside JSON."""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if _json_len(text[:mid]) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def _truncated(original: str, keep: int) -> str:
    """original[:keep] (preferably at a line end, code fences closed) plus the omission note."""
    head = original[:keep]
    newline = head.rfind("\n")
    if newline >= len(head) * 3 // 4:
        head = head[:newline]
    omitted = _utf8_len(original) - _utf8_len(head)
    if head.count("```") % 2:
        head += "\n```"
    note = f"(truncated: {omitted} bytes omitted)"
    return f"{head}\n\n{note}" if head else note


def fit_card(card: dict[str, Any], limit_bytes: int = CARD_LIMIT_BYTES) -> dict[str, Any]:
    """The card itself if it fits, else a copy whose longest texts are cut to fit, with a note."""
    if card_size(card) <= limit_bytes:
        return card
    fitted = copy.deepcopy(card)
    nodes = list(text_nodes(fitted))
    originals = [node["content"] for node in nodes]
    kept = [len(text) for text in originals]
    size = card_size(fitted)
    while size > limit_bytes:
        candidates = [i for i in range(len(nodes)) if kept[i] > 0]
        if not candidates:
            raise ValueError(f"card is {size} bytes without any text; cannot fit {limit_bytes}")
        i = max(candidates, key=lambda j: _json_len(originals[j][: kept[j]]))
        prefix = originals[i][: kept[i]]
        budget = _json_len(prefix) - (size - limit_bytes) - _NOTE_RESERVE
        kept[i] = _chars_within(prefix, budget)
        nodes[i]["content"] = _truncated(originals[i], kept[i])
        size = card_size(fitted)
    return fitted
