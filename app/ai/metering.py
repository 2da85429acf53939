"""measure(): run one model call and record it as a JSON log line and an llm_calls row.

The assistant's calls are admitted by the AI gateway's governance first (the same per-user
limits and upstream caps as gateway clients); write_call() is the one writer both use.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from app.ai.client import ChatResult, LLMClient, LLMUnavailable
from app.ai.models import CallStatus, LLMCall
from app.infra import metrics
from app.infra.db import db, utcnow

logger = logging.getLogger(__name__)

SLOW, ERROR = "slow_request", "error_request"


@dataclass(frozen=True)
class CallMeta:
    """Who the call is for: the request (event) id, the sender, the chat, their role and the client."""

    request_id: str
    user_id: str | None
    chat_id: str | None
    role: str | None = None  # for the gateway's per-role limits
    client: str = "bot"  # "bot" for the assistant, the API token's name for gateway clients


def tags_for(*, duration_ms: float, failed: bool, slow_ms: int) -> list[str]:
    """slow_request above the threshold, error_request on failure."""
    tags = [SLOW] if duration_ms > slow_ms else []
    return tags + [ERROR] if failed else tags


def efficiency(input_tokens: int, output_tokens: int) -> float | None:
    """Output tokens per input token (None when the input is unknown)."""
    return round(output_tokens / input_tokens, 4) if input_tokens else None


def estimate_tokens(text: str) -> int:
    """A rough token count for text when the server reports none (about four characters a token)."""
    return math.ceil(len(text) / 4) if text else 0


def messages_text(messages: list[dict[str, Any]]) -> str:
    """The text content of chat messages (string or OpenAI content parts), for estimates."""
    parts: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def measure(client: LLMClient, messages: list[dict[str, Any]], *, meta: CallMeta, slow_ms: int,
            tools: list[dict[str, Any]] | None = None, on_delta: Callable[[str], None] | None = None,
            deadline: float | None = None) -> ChatResult:
    """client.chat(...) admitted by the gateway's limits and measured; a failure is recorded too, then re-raised."""
    from app.gateway.governance import admit_bot  # the gateway builds on this module

    with admit_bot(meta, upstream=client.model) as slot:
        started = time.monotonic()
        try:
            result = client.chat(messages, tools=tools, on_delta=on_delta, deadline=deadline)
        except LLMUnavailable as exc:
            record(client, meta, ChatResult(duration_ms=(time.monotonic() - started) * 1000, ttft_ms=exc.ttft_ms),
                   slow_ms=slow_ms, error=str(exc))
            raise
        estimated = not result.usage_reported
        if estimated:
            result.input_tokens = estimate_tokens(messages_text(messages))
            result.output_tokens = estimate_tokens(result.content)
        slot.spend(result.input_tokens + result.output_tokens)
        record(client, meta, result, slow_ms=slow_ms, estimated=estimated)
    return result


def record(client: LLMClient, meta: CallMeta, result: ChatResult, *, slow_ms: int, error: str | None = None,
           estimated: bool = False) -> dict[str, Any]:
    """Write the log line and the row for one of the assistant's calls."""
    return write_call(meta=meta, provider=client.provider, model=client.model, upstream=client.model,
                      input_tokens=result.input_tokens, output_tokens=result.output_tokens, estimated=estimated,
                      duration_ms=result.duration_ms, ttft_ms=result.ttft_ms, slow_ms=slow_ms, error=error)


def write_call(*, meta: CallMeta, provider: str, model: str, upstream: str | None, input_tokens: int,
               output_tokens: int, estimated: bool, duration_ms: float, ttft_ms: float | None, slow_ms: int,
               error: str | None = None, sink: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Write the JSON log line and the llm_calls row for one call; a database failure is logged, never raised.

    sink, when given, takes the row's fields instead (the gateway writes its rows in batches).
    """
    fields: dict[str, Any] = {
        "timestamp": utcnow(),
        "request_id": meta.request_id,
        "client": meta.client,
        "user_id": meta.user_id,
        "chat_id": meta.chat_id,
        "provider": provider,
        "model": model,
        "upstream": upstream,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "tokens_estimated": estimated,
        "duration_ms": round(duration_ms, 1),
        "ttft_ms": None if ttft_ms is None else round(ttft_ms, 1),
        "status": CallStatus.ERROR.value if error else CallStatus.OK.value,
        "error": error,
        "token_efficiency": efficiency(input_tokens, output_tokens),
        "tags": tags_for(duration_ms=duration_ms, failed=error is not None, slow_ms=slow_ms),
    }
    # Top-level extra fields, so the JSON line carries exactly these names (its timestamp is the call's).
    log_fields = {**fields, "timestamp": fields["timestamp"].isoformat(timespec="milliseconds"),
                  "event.dataset": "openclaw.llm", "trace.id": meta.request_id}
    logger.log(logging.WARNING if error else logging.INFO, "llm call", extra=log_fields)
    metrics.observe_model_call(model=model, upstream=upstream or provider, status=fields["status"],
                               duration_ms=duration_ms, ttft_ms=ttft_ms, input_tokens=input_tokens,
                               output_tokens=output_tokens, efficiency=fields["token_efficiency"],
                               slow=SLOW in fields["tags"])
    if sink is not None:
        sink(fields)
        return fields
    try:
        db.session.add(LLMCall(**fields))
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        logger.error("llm call row not written", extra={"request_id": meta.request_id, "error": str(exc)[:200]})
    return fields

