"""The chain's arithmetic: canonical content and its HMAC. Pure, so verify and record agree."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any


def _utc_text(moment: datetime) -> str:
    """One spelling per instant whether the database kept the zone (PostgreSQL) or not (SQLite)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    *, seq: int, created_at: datetime, actor: str, action: str, target: str | None, chat_id: str | None,
    details: dict[str, Any],
) -> bytes:
    """The exact bytes a record's HMAC covers (besides the previous hash)."""
    content = {
        "seq": seq,
        "created_at": _utc_text(created_at),
        "actor": actor,
        "action": action,
        "target": target,
        "chat_id": chat_id,
        "details": details,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def link_hash(key: str, content: bytes, prev_hash: str) -> str:
    """HMAC-SHA256 keyed by the server's audit key over content and the previous record's hash."""
    return hmac.new(key.encode("utf-8"), content + b"|" + prev_hash.encode("ascii"), hashlib.sha256).hexdigest()
