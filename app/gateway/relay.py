"""Passing upstream answers through to the client as they arrive, reading usage on the way.

OpenAI SSE events and Ollama NDJSON lines are forwarded one by one. Only what the gateway
governs is rewritten: `<think>` blocks and reasoning fields when the model strips thinking,
the usage event the gateway asked for on the client's behalf, and the Ollama wire format
for Ollama-native clients of an OpenAI-only upstream.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from app.ai.think import ThinkFilter, strip_think

REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")


@dataclass
class Tally:
    """What one call produced: tokens (reported or not), output size, first-token time, error."""

    started: float
    input_tokens: int = 0
    output_tokens: int = 0
    usage_reported: bool = False
    output_chars: int = 0
    ttft_ms: float | None = None
    error: str | None = None
    finish_reason: str | None = None
    input_estimate: int = 0  # from the request's messages, for answers the upstream sends no usage with
    filters: dict[int, ThinkFilter] = field(default_factory=dict)

    def output(self, text: str) -> None:
        if text:
            self.output_chars += len(text)
            self.first_token()

    def first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = (time.monotonic() - self.started) * 1000

    def openai_usage(self, usage: dict[str, Any]) -> None:
        self.usage_reported = True
        self.input_tokens = int(usage.get("prompt_tokens") or 0)
        self.output_tokens = int(usage.get("completion_tokens") or 0)

    def ollama_usage(self, payload: dict[str, Any]) -> None:
        if "prompt_eval_count" in payload or "eval_count" in payload:
            self.usage_reported = True
            self.input_tokens = int(payload.get("prompt_eval_count") or 0)
            self.output_tokens = int(payload.get("eval_count") or 0)

    def visible(self, index: int, text: str, final: bool) -> str:
        """text without think blocks (per choice), flushing what was held back at the end."""
        think = self.filters.setdefault(index, ThinkFilter())
        out = think.feed(text)
        return out + think.flush() if final else out


def _lines(response: requests.Response) -> Iterator[bytes]:
    """Lines (without their end) as the bytes arrive; a partial last line is yielded too."""
    pending = b""
    for data in response.iter_content(chunk_size=None):
        pending += data
        while True:
            cut = pending.find(b"\n")
            if cut < 0:
                break
            yield pending[:cut].rstrip(b"\r")
            pending = pending[cut + 1:]
    if pending.strip():
        yield pending


def _sse_events(response: requests.Response) -> Iterator[tuple[bytes | None, list[bytes]]]:
    """(data payload or None, the event's raw lines) per SSE event."""
    lines: list[bytes] = []
    data: list[bytes] = []
    for line in _lines(response):
        if line:
            lines.append(line)
            if line.startswith(b"data:"):
                data.append(line[5:].lstrip(b" "))
            continue
        if lines:
            yield (b"\n".join(data) if data else None), lines
        lines, data = [], []
    if lines:
        yield (b"\n".join(data) if data else None), lines


def _openai_chunk(obj: dict[str, Any], tally: Tally, strip: bool) -> bool:
    """Read usage and content from one chunk (stripping think when asked); True when obj was changed."""
    if obj.get("usage"):
        tally.openai_usage(obj["usage"])
    changed = False
    for choice in obj.get("choices") or []:
        delta = choice.get("delta") or {}
        text = delta.get("content")
        if isinstance(text, str):
            tally.output(text)
        if delta.get("tool_calls"):
            tally.first_token()
        if choice.get("finish_reason"):
            tally.finish_reason = choice["finish_reason"]
        if not strip:
            continue
        final = bool(choice.get("finish_reason"))
        if isinstance(text, str) or final:
            visible = tally.visible(int(choice.get("index") or 0), text or "", final)
            if visible != (text or "") or (final and visible):
                delta["content"] = visible
                choice["delta"] = delta
                changed = True
        for name in REASONING_FIELDS:
            if delta.pop(name, None) is not None:
                changed = True
    return changed


def openai_stream(response: requests.Response, tally: Tally, *, strip: bool, drop_usage: bool) -> Iterator[bytes]:
    """The upstream's SSE events for an OpenAI client; an error event when the stream breaks."""
    done = False
    try:
        for payload, lines in _sse_events(response):
            if payload is None:
                yield b"\n".join(lines) + b"\n\n"  # comments and keep-alives
                continue
            if payload == b"[DONE]":
                done = True
                yield b"data: [DONE]\n\n"
                continue
            try:
                obj = json.loads(payload)
            except ValueError:
                tally.error = "the upstream sent a malformed event"
                break
            if isinstance(obj, dict) and "error" in obj:
                tally.error = f"upstream error: {str(obj['error'])[:300]}"
                yield b"data: " + payload + b"\n\n"
                continue
            changed = _openai_chunk(obj, tally, strip)
            if drop_usage and obj.get("usage") and not obj.get("choices"):
                continue  # the usage event the gateway asked for itself
            yield b"data: " + (json.dumps(obj, ensure_ascii=False).encode() if changed else payload) + b"\n\n"
    except requests.RequestException as exc:
        tally.error = broken(exc)
    if not done and tally.error is None:
        tally.error = "the upstream stream ended without [DONE]"
    if not done:
        body = {"error": {"message": tally.error, "type": "upstream_error", "param": None, "code": "upstream_error"}}
        yield b"data: " + json.dumps(body).encode() + b"\n\n"


def broken(exc: Exception) -> str:
    """Why an upstream stream or body broke off."""
    if isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower():
        return "the upstream stopped sending (read timeout)"
    return f"the upstream connection broke: {type(exc).__name__}"


def _ollama_message(obj: dict[str, Any], tally: Tally, strip: bool) -> bool:
    message = obj.get("message") or {}
    text = message.get("content")
    if isinstance(text, str):
        tally.output(text)
    if message.get("tool_calls"):
        tally.first_token()
    final = bool(obj.get("done"))
    if final:
        tally.ollama_usage(obj)
        tally.finish_reason = obj.get("done_reason") or "stop"
    if not strip:
        return False
    changed = message.pop("thinking", None) is not None
    if isinstance(text, str) or final:
        visible = tally.visible(0, text or "", final)
        if visible != (text or ""):
            message["content"] = visible
            obj["message"] = message
            changed = True
    return changed


def ollama_stream(response: requests.Response, tally: Tally, *, strip: bool) -> Iterator[bytes]:
    """The upstream's NDJSON lines for an Ollama client; an error line when the stream breaks."""
    done = False
    try:
        for line in _lines(response):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                tally.error = "the upstream sent a malformed line"
                break
            if "error" in obj:
                tally.error = f"upstream error: {str(obj['error'])[:300]}"
                yield line + b"\n"
                return
            changed = _ollama_message(obj, tally, strip)
            yield (json.dumps(obj, ensure_ascii=False).encode() if changed else line) + b"\n"
            if obj.get("done"):
                done = True
                break
    except requests.RequestException as exc:
        tally.error = broken(exc)
    if not done:
        tally.error = tally.error or "the upstream stream ended before done"
        yield json.dumps({"error": tally.error}).encode() + b"\n"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _ollama_final(model: str, tally: Tally, content: str = "") -> dict[str, Any]:
    if not tally.usage_reported:  # Ollama clients expect counts; give the estimate metering records too
        tally.input_tokens, tally.output_tokens = tally.input_estimate, -(-tally.output_chars // 4)
    return {"model": model, "created_at": _now(), "message": {"role": "assistant", "content": content}, "done": True,
            "done_reason": tally.finish_reason or "stop",
            "total_duration": int((time.monotonic() - tally.started) * 1e9),
            "prompt_eval_count": tally.input_tokens, "eval_count": tally.output_tokens}


def ollama_from_openai_stream(response: requests.Response, tally: Tally, *, model: str, strip: bool) -> Iterator[bytes]:
    """An OpenAI upstream's SSE stream as Ollama NDJSON lines (for Ollama-native clients)."""
    done = False
    try:
        for payload, _lines_ in _sse_events(response):
            if payload is None:
                continue
            if payload == b"[DONE]":
                done = True
                break
            obj = json.loads(payload)
            if "error" in obj:
                tally.error = f"upstream error: {str(obj['error'])[:300]}"
                break
            _openai_chunk(obj, tally, strip)
            for choice in obj.get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    line = {"model": model, "created_at": _now(), "message": {"role": "assistant", "content": text},
                            "done": False}
                    yield json.dumps(line, ensure_ascii=False).encode() + b"\n"
    except ValueError:
        tally.error = "the upstream sent a malformed event"
    except requests.RequestException as exc:
        tally.error = broken(exc)
    if done:
        yield json.dumps(_ollama_final(model, tally)).encode() + b"\n"
        return
    tally.error = tally.error or "the upstream stream ended without [DONE]"
    yield json.dumps({"error": tally.error}).encode() + b"\n"


def openai_whole(raw: bytes, tally: Tally, *, strip: bool) -> bytes:
    """A whole OpenAI answer for the client (think stripped when asked); usage read."""
    obj = json.loads(raw)
    if obj.get("usage"):
        tally.openai_usage(obj["usage"])
    changed = False
    for choice in obj.get("choices") or []:
        message = choice.get("message") or {}
        text = message.get("content")
        if isinstance(text, str):
            tally.output(text)
        tally.first_token()
        tally.finish_reason = choice.get("finish_reason")
        if strip:
            for name in REASONING_FIELDS:
                changed = message.pop(name, None) is not None or changed
            if isinstance(text, str) and ("<think>" in text or "</think>" in text):
                message["content"] = strip_think(text)
                changed = True
    return json.dumps(obj, ensure_ascii=False).encode() if changed else raw


def ollama_whole(raw: bytes, tally: Tally, *, strip: bool) -> bytes:
    """A whole Ollama answer for the client (think stripped when asked); usage read."""
    obj = json.loads(raw)
    message = obj.get("message") or {}
    text = message.get("content")
    if isinstance(text, str):
        tally.output(text)
    tally.first_token()
    tally.ollama_usage(obj)
    if not strip:
        return raw
    changed = message.pop("thinking", None) is not None
    if isinstance(text, str) and ("<think>" in text or "</think>" in text):
        message["content"] = strip_think(text)
        changed = True
    return json.dumps(obj, ensure_ascii=False).encode() if changed else raw


def ollama_from_openai_whole(raw: bytes, tally: Tally, *, model: str, strip: bool) -> bytes:
    """A whole OpenAI answer as Ollama's /api/chat answer."""
    obj = json.loads(openai_whole(raw, tally, strip=strip))
    choices = obj.get("choices") or [{}]
    message = choices[0].get("message") or {}
    answer = _ollama_final(model, tally, message.get("content") or "")
    if message.get("tool_calls"):
        answer["message"]["tool_calls"] = [
            {"function": {"name": c["function"]["name"], "arguments": _decoded(c["function"].get("arguments"))}}
            for c in message["tool_calls"] if isinstance(c, dict) and c.get("function")]
    return json.dumps(answer, ensure_ascii=False).encode()


def _decoded(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return {}
    return arguments or {}
