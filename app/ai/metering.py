"""measure(): run one model call and record it as a JSON log line and an llm_calls row."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from app.ai.client import ChatResult, LLMClient, LLMUnavailable
from app.ai.models import CallStatus, LLMCall
from app.infra.db import db, utcnow

logger = logging.getLogger(__name__)

SLOW, ERROR = "slow_request", "error_request"


@dataclass(frozen=True)
class CallMeta:
    """Who the call is for: the request (event) id, the sender and the chat."""

    request_id: str
    user_id: str | None
    chat_id: str | None


def tags_for(*, duration_ms: float, failed: bool, slow_ms: int) -> list[str]:
    """slow_request above the threshold, error_request on failure."""
    tags = [SLOW] if duration_ms > slow_ms else []
    return tags + [ERROR] if failed else tags


def efficiency(input_tokens: int, output_tokens: int) -> float | None:
    """Output tokens per input token (None when the input is unknown)."""
    return round(output_tokens / input_tokens, 4) if input_tokens else None


def measure(client: LLMClient, messages: list[dict[str, Any]], *, meta: CallMeta, slow_ms: int,
            tools: list[dict[str, Any]] | None = None, on_delta: Callable[[str], None] | None = None,
            deadline: float | None = None) -> ChatResult:
    """client.chat(...) measured; the failure is recorded too, then re-raised."""
    started = time.monotonic()
    try:
        result = client.chat(messages, tools=tools, on_delta=on_delta, deadline=deadline)
    except LLMUnavailable as exc:
        record(client, meta, ChatResult(duration_ms=(time.monotonic() - started) * 1000, ttft_ms=exc.ttft_ms),
               slow_ms=slow_ms, error=str(exc))
        raise
    record(client, meta, result, slow_ms=slow_ms)
    return result


def record(client: LLMClient, meta: CallMeta, result: ChatResult, *, slow_ms: int, error: str | None = None) -> dict[str, Any]:
    """Write the log line and the row for one call; a database failure is logged, never raised."""
    fields: dict[str, Any] = {
        "timestamp": utcnow(),
        "request_id": meta.request_id,
        "user_id": meta.user_id,
        "chat_id": meta.chat_id,
        "provider": client.provider,
        "model": client.model,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "duration_ms": round(result.duration_ms, 1),
        "ttft_ms": None if result.ttft_ms is None else round(result.ttft_ms, 1),
        "status": CallStatus.ERROR.value if error else CallStatus.OK.value,
        "error": error,
        "token_efficiency": efficiency(result.input_tokens, result.output_tokens),
        "tags": tags_for(duration_ms=result.duration_ms, failed=error is not None, slow_ms=slow_ms),
    }
    # Top-level extra fields, so the JSON line carries exactly these names (its timestamp is the call's).
    log_fields = {**fields, "timestamp": fields["timestamp"].isoformat(timespec="milliseconds")}
    logger.log(logging.WARNING if error else logging.INFO, "llm call", extra=log_fields)
    try:
        db.session.add(LLMCall(**fields))
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        logger.error("llm call row not written", extra={"request_id": meta.request_id, "error": str(exc)[:200]})
    return fields

