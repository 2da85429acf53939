"""Input hygiene shared by /admin and /api/v1: NUL characters are refused before anything reads them."""
from __future__ import annotations

from typing import Any

from flask import Request


def _has_nul(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 20:
        return False
    if isinstance(value, dict):
        return any(_has_nul(k, depth + 1) or _has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v, depth + 1) for v in value)
    return False


def carries_nul(request: Request) -> bool:
    """True when a query value, form value or JSON string holds NUL (PostgreSQL text cannot store it)."""
    if any("\x00" in v for v in request.args.values()) or any("\x00" in v for v in request.form.values()):
        return True
    if request.is_json:
        return _has_nul(request.get_json(silent=True))
    return False
