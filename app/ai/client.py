"""LLMClient: chat with Qwen3 over Ollama's /api/chat or any OpenAI-compatible /v1/chat/completions.

Thinking off (LLM_THINK=false): Ollama gets `"think": false`; OpenAI-compatible servers get
Qwen3's `/no_think` soft switch at the end of the system prompt. The soft switch is plain
content, so strict OpenAI-compatible servers (DashScope, Ollama /v1) accept it, where a
non-standard `chat_template_kwargs` field may be rejected or ignored. Whatever the server
does, `<think>` blocks are stripped from content and reasoning fields are never read.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from app.ai.think import ThinkFilter
from app.errors import BotError
from app.infra.http import make_session

logger = logging.getLogger(__name__)

NO_THINK = "/no_think"
DEFAULT_OLLAMA = "http://127.0.0.1:11434"
Delta = Callable[[str], None]


class LLMUnavailable(BotError):
    """The model server could not be reached, failed, timed out or answered nonsense."""

    def __init__(self, message: str, *, user_message: str | None = None, partial: str = "",
                 ttft_ms: float | None = None) -> None:
        super().__init__(message, user_message=user_message or "The assistant is unavailable right now; try again in a minute, or use /help for commands.")
        self.partial = partial
        self.ttft_ms = ttft_ms


@dataclass(frozen=True)
class ToolCall:
    """A tool the model asked for: provider id (OpenAI only), name and decoded arguments."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class ChatResult:
    """One model call's outcome: visible text, tool calls, usage and timings."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    ttft_ms: float | None = None
    duration_ms: float = 0.0
    usage_reported: bool = False  # False: the server sent no token counts (metering estimates them)
    truncated: bool = False  # the model stopped at max_tokens (finish_reason / done_reason "length")


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {"_invalid": str(raw)[:200]}
    return value if isinstance(value, dict) else {"_invalid": str(raw)[:200]}


class DeadlinePassed(LLMUnavailable):
    """The answer's overall deadline (LLM_ANSWER_DEADLINE) passed; the partial text is kept."""

    def __init__(self, message: str = "the answer deadline passed", **kwargs: Any) -> None:
        kwargs.setdefault("user_message", "The assistant ran out of time for this answer and stopped; "
                                          "ask a narrower question.")
        super().__init__(message, **kwargs)


class _Accumulator:
    """Collects streamed content (think-stripped), tool calls, usage and the first-token time."""

    def __init__(self, started: float, on_delta: Delta | None, deadline: float | None = None) -> None:
        self.started = started
        self.deadline = deadline
        self.on_delta = on_delta
        self.filter = ThinkFilter()
        self.parts: list[str] = []
        self.result = ChatResult()
        self.openai_calls: dict[int, dict[str, Any]] = {}

    def check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeadlinePassed("the answer deadline passed while the model was still sending")

    def text(self, chunk: str) -> None:
        if not chunk:
            return
        if self.result.ttft_ms is None:
            self.result.ttft_ms = (time.monotonic() - self.started) * 1000
        visible = self.filter.feed(chunk)
        self._emit(visible)

    def _emit(self, visible: str) -> None:
        if visible:
            self.parts.append(visible)
            if self.on_delta is not None:
                self.on_delta(visible)

    def mark_first_token(self) -> None:
        if self.result.ttft_ms is None:
            self.result.ttft_ms = (time.monotonic() - self.started) * 1000

    def finish(self) -> ChatResult:
        self._emit(self.filter.flush())
        self.result.content = "".join(self.parts).strip()
        for index in sorted(self.openai_calls):
            call = self.openai_calls[index]
            self.result.tool_calls.append(ToolCall(call["id"], call["name"], _arguments(call["arguments"])))
        self.result.duration_ms = (time.monotonic() - self.started) * 1000
        return self.result

    def partial(self) -> str:
        return "".join(self.parts)


class LLMClient:
    """One configured model endpoint; chat() streams when given on_delta."""

    def __init__(self, *, provider: str, base_url: str, model: str, api_key: str | None = None,
                 think: bool = False, timeout: tuple[float, float] = (3.0, 60.0), retries: int = 2,
                 max_tokens: int | None = None, session: requests.Session | None = None) -> None:
        if provider not in ("ollama", "openai"):
            raise ValueError(f"unknown LLM provider {provider!r}")
        self.provider, self.model, self.think = provider, model, think
        self.base_url = base_url.rstrip("/")
        self.timeout, self.retries, self.max_tokens = timeout, retries, max_tokens
        self._api_key = api_key
        self._session = session or make_session(user_agent="OpenClaw-LLM")

    def unreachable_message(self) -> str:
        """What to tell people when nothing answers at base_url: that, and how to point OpenClaw at a model."""
        how = ("Set LLM_BASE_URL and LLM_MODEL (with LLM_PROVIDER=openai and LLM_API_KEY for an "
               "OpenAI-compatible server) and restart OpenClaw; the README shows how.")
        if self.provider == "ollama" and self.base_url == DEFAULT_OLLAMA:
            return f"No model server is configured: nothing answers at {self.base_url} (the default, Ollama). {how}"
        return f"No model server answers at {self.base_url} ({self.provider}, model {self.model}). {how}"

    # -- requests ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The chat endpoint for this provider (a base URL ending in /v1 is accepted for openai)."""
        if self.provider == "ollama":
            return f"{self.base_url}/api/chat"
        base = self.base_url if self.base_url.endswith("/v1") else f"{self.base_url}/v1"
        return f"{base}/chat/completions"

    def _body(self, messages: list[dict[str, Any]], stream: bool, tools: list[dict[str, Any]] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": stream}
        if tools:
            body["tools"] = tools
        if self.provider == "ollama":
            body["think"] = self.think
            if self.max_tokens:
                body["options"] = {"num_predict": self.max_tokens}
            return body
        if self.max_tokens:
            body["max_tokens"] = self.max_tokens
        if stream:
            body["stream_options"] = {"include_usage": True}
        if not self.think:
            body["messages"] = _with_soft_switch(messages)
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _timeout(self, deadline: float | None) -> tuple[float, float]:
        """The configured timeouts, the read timeout shortened to what is left before deadline."""
        if deadline is None:
            return self.timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed("the answer deadline passed before the model call")
        return min(self.timeout[0], left), min(self.timeout[1], left)

    def _post(self, body: dict[str, Any], stream: bool, deadline: float | None = None) -> requests.Response:
        """POST, retrying only when no connection could be made (the request never arrived)."""
        for attempt in range(self.retries + 1):
            try:
                return self._session.post(self.url, data=json.dumps(body, ensure_ascii=False).encode(),
                                          headers=self._headers(), timeout=self._timeout(deadline), stream=stream)
            except requests.ConnectionError as exc:
                if attempt == self.retries:
                    raise LLMUnavailable(f"cannot reach the model server: {type(exc).__name__}",
                                         user_message=self.unreachable_message()) from exc
                logger.warning("llm connection failed, retrying", extra={"attempt": attempt + 1, "error": type(exc).__name__})
                time.sleep(0.2 * (attempt + 1))
            except requests.Timeout as exc:
                if deadline is not None and time.monotonic() >= deadline:
                    raise DeadlinePassed("the answer deadline passed waiting for the model") from exc
                raise LLMUnavailable(f"the model server timed out: {type(exc).__name__}",
                                     user_message="The assistant took too long to answer; try again later.") from exc
        raise AssertionError("unreachable")

    # -- public --------------------------------------------------------------------------------

    def chat(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
             on_delta: Delta | None = None, deadline: float | None = None) -> ChatResult:
        """One model call; streams (calling on_delta with visible text) when on_delta is given.

        deadline (time.monotonic()) bounds the whole call, not just each read: DeadlinePassed.
        """
        stream = on_delta is not None
        started = time.monotonic()
        acc = _Accumulator(started, on_delta, deadline)
        resp = self._post(self._body(messages, stream, tools), stream, deadline)
        try:
            if resp.status_code != 200:
                missing = resp.status_code == 404 and "model" in resp.text.lower()
                raise LLMUnavailable(
                    f"model server answered HTTP {resp.status_code}: {resp.text[:200]}",
                    user_message=(f"The model server at {self.base_url} has no model {self.model!r}: "
                                  f"pull it (Ollama: ollama pull {self.model}) or set LLM_MODEL.") if missing else None)
            if stream:
                self._read_stream(resp, acc)
            else:
                self._read_whole(resp, acc)
        except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError) as exc:
            if isinstance(exc, requests.Timeout) and deadline is not None and time.monotonic() >= deadline:
                raise DeadlinePassed(partial=acc.partial(), ttft_ms=acc.result.ttft_ms) from exc
            if isinstance(exc, requests.Timeout):
                reason = "the model server stopped sending (read timeout)"
            elif isinstance(exc, requests.RequestException) and not isinstance(exc, ValueError):
                reason = f"the connection to the model server broke: {type(exc).__name__}"
            else:
                reason = f"the model server sent a malformed answer: {type(exc).__name__}: {str(exc)[:200]}"
            raise LLMUnavailable(reason, partial=acc.partial(), ttft_ms=acc.result.ttft_ms) from exc
        except LLMUnavailable as exc:
            exc.partial, exc.ttft_ms = acc.partial(), acc.result.ttft_ms
            raise
        finally:
            resp.close()
        return acc.finish()

    def assistant_message(self, result: ChatResult) -> dict[str, Any]:
        """The assistant turn that asked for tools, in this provider's message format."""
        if self.provider == "ollama":
            calls = [{"function": {"name": c.name, "arguments": c.arguments}} for c in result.tool_calls]
            return {"role": "assistant", "content": result.content, "tool_calls": calls}
        calls = [{"id": c.id, "type": "function",
                  "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
                 for c in result.tool_calls]
        return {"role": "assistant", "content": result.content or None, "tool_calls": calls}

    def tool_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        """A tool's result, in this provider's message format."""
        if self.provider == "ollama":
            return {"role": "tool", "content": content, "tool_name": call.name}
        return {"role": "tool", "tool_call_id": call.id, "content": content}

    # -- response parsing ----------------------------------------------------------------------

    def _read_whole(self, resp: requests.Response, acc: _Accumulator) -> None:
        payload = resp.json()
        if self.provider == "ollama":
            message = payload["message"]
            acc.text(message.get("content") or "")
            acc.mark_first_token()
            for call in message.get("tool_calls") or []:
                fn = call["function"]
                acc.result.tool_calls.append(ToolCall(str(call.get("id", "")), fn["name"], _arguments(fn.get("arguments"))))
            _ollama_usage(payload, acc.result)
            return
        acc.result.truncated = payload["choices"][0].get("finish_reason") == "length"
        message = payload["choices"][0]["message"]
        acc.text(message.get("content") or "")
        acc.mark_first_token()
        for index, call in enumerate(message.get("tool_calls") or []):
            fn = call["function"]
            acc.openai_calls[index] = {"id": call.get("id", ""), "name": fn["name"], "arguments": fn.get("arguments")}
        _openai_usage(payload.get("usage"), acc.result)

    def _read_stream(self, resp: requests.Response, acc: _Accumulator) -> None:
        if self.provider == "ollama":
            for line in _lines(resp):
                acc.check_deadline()
                chunk = json.loads(line)
                if "error" in chunk:
                    raise LLMUnavailable(f"model server error: {str(chunk['error'])[:200]}")
                message = chunk.get("message") or {}
                acc.text(message.get("content") or "")
                for call in message.get("tool_calls") or []:
                    acc.mark_first_token()
                    fn = call["function"]
                    acc.result.tool_calls.append(ToolCall(str(call.get("id", "")), fn["name"], _arguments(fn.get("arguments"))))
                if chunk.get("done"):
                    _ollama_usage(chunk, acc.result)
                    return
            raise LLMUnavailable("the model stream ended before done", user_message="The answer was cut off.")
        for line in _lines(resp):
            acc.check_deadline()
            if not line.startswith("data:"):
                continue  # SSE comments, event names, keep-alives
            data = line[5:].strip()
            if data == "[DONE]":
                return
            chunk = json.loads(data)
            if "error" in chunk:
                raise LLMUnavailable(f"model server error: {str(chunk['error'])[:200]}")
            if chunk.get("usage"):
                _openai_usage(chunk["usage"], acc.result)
            for choice in chunk.get("choices") or []:
                acc.result.truncated = acc.result.truncated or choice.get("finish_reason") == "length"
                delta = choice.get("delta") or {}
                acc.text(delta.get("content") or "")
                for call in delta.get("tool_calls") or []:
                    acc.mark_first_token()
                    slot = acc.openai_calls.setdefault(call.get("index", 0), {"id": "", "name": "", "arguments": ""})
                    slot["id"] = call.get("id") or slot["id"]
                    fn = call.get("function") or {}
                    slot["name"] += fn.get("name") or ""
                    slot["arguments"] += fn.get("arguments") or ""
        raise LLMUnavailable("the model stream ended without [DONE]", user_message="The answer was cut off.")


def _lines(resp: requests.Response) -> Iterator[str]:
    for raw in resp.iter_lines(chunk_size=None):
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if line.strip():
            yield line


def _ollama_usage(payload: dict[str, Any], result: ChatResult) -> None:
    result.usage_reported = "prompt_eval_count" in payload or "eval_count" in payload
    result.truncated = payload.get("done_reason") == "length"
    result.input_tokens = int(payload.get("prompt_eval_count") or 0)
    result.output_tokens = int(payload.get("eval_count") or 0)


def _openai_usage(usage: dict[str, Any] | None, result: ChatResult) -> None:
    if usage:
        result.usage_reported = True
        result.input_tokens = int(usage.get("prompt_tokens") or 0)
        result.output_tokens = int(usage.get("completion_tokens") or 0)


def _with_soft_switch(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages with /no_think at the end of the system prompt (added as one when there is none)."""
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0])
        first["content"] = f"{first.get('content') or ''}\n{NO_THINK}"
        return [first, *messages[1:]]
    return [{"role": "system", "content": NO_THINK}, *messages]


def from_config(config: dict[str, Any]) -> LLMClient:
    """An LLMClient for the app's LLM_* settings."""
    return LLMClient(
        provider=config["LLM_PROVIDER"], base_url=config["LLM_BASE_URL"] or DEFAULT_OLLAMA,
        model=config["LLM_MODEL"] or "qwen3:32b", api_key=config.get("LLM_API_KEY"), think=bool(config.get("LLM_THINK")),
        timeout=(float(config.get("LLM_CONNECT_TIMEOUT") or 3), float(config.get("LLM_READ_TIMEOUT") or 60)),
        max_tokens=int(config.get("LLM_MAX_TOKENS") or 0) or None,
    )
