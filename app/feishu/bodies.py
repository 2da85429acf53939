"""Request bodies for messages, sized to Feishu's limits (feishu-protocol.md 4.10)."""
from __future__ import annotations

import hashlib
import json
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from app.feishu.errors import FeishuMessageTooLarge
from app.feishu.text import CARD_LIMIT_BYTES, TEXT_LIMIT_BYTES, fit_card, mask_card, split_text


def dumps(value: Any) -> str:
    """JSON as Feishu wants it: UTF-8 text, not \\u escapes (which would inflate sizes)."""
    return json.dumps(value, ensure_ascii=False)


def body_size(body: dict[str, Any]) -> int:
    """Bytes of the request body as FeishuClient sends it."""
    return len(dumps(body).encode("utf-8"))


def new_uuid() -> str:
    """A fresh idempotency key (32 hex chars; Feishu accepts at most 50)."""
    return uuidlib.uuid4().hex


def piece_uuid(base: str, index: int) -> str:
    """Idempotency key for piece `index` of one logical message: the caller's key, then derived ones."""
    return base if index == 0 else hashlib.sha256(f"{base}/{index}".encode()).hexdigest()[:32]


def fit_text_bodies(text: str, build: Callable[[str, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """Request bodies build(piece, index) for `text`, split so each is within TEXT_LIMIT_BYTES."""
    if not text:
        raise ValueError("cannot send an empty text message")
    limit = TEXT_LIMIT_BYTES - 1024
    while True:
        bodies = [build(piece, index) for index, piece in enumerate(split_text(text, limit))]
        worst = max(body_size(body) for body in bodies)
        if worst <= TEXT_LIMIT_BYTES:
            return bodies
        # JSON escaping (the content string is escaped again inside the body) inflated a piece.
        limit = max(64, limit * TEXT_LIMIT_BYTES // worst - 1024)


def fit_card_body(card: dict[str, Any], build: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """The request body for a masked card, truncated so the serialised body is within 30 KB."""
    card = mask_card(card)
    limit = CARD_LIMIT_BYTES
    for _ in range(8):
        body = build(fit_card(card, limit))
        size = body_size(body)
        if size <= CARD_LIMIT_BYTES:
            return body
        limit -= size - CARD_LIMIT_BYTES + 256
    raise FeishuMessageTooLarge(230025, f"card body still {size} bytes after truncation")
