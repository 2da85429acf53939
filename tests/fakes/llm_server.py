"""FakeLLMServer: Ollama /api/chat (NDJSON) and OpenAI /v1/chat/completions (SSE), scripted per request."""
from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLLMServer", "Script", "LLMRequest"]

CREATED_AT = "2026-11-21T10:00:00.000000000Z"


@dataclass
class Script:
    """How to answer one request: content chunks, tool calls, usage, and failures to inject."""

    chunks: list[str] = field(default_factory=lambda: ["Fake ", "answer."])
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    thinking: str = ""  # sent in the reasoning field (thinking / reasoning_content), which clients must ignore
    usage: tuple[int, int] | None = (42, 7)  # None: the server reports no token counts at all
    status: int = 200
    error_body: str = '{"error":"model crashed"}'
    hang_before: float = 0.0  # seconds of silence after the headers, before the first chunk
    chunk_delay: float = 0.0
    cut_after: int | None = None  # close the stream after this many content chunks, without done/[DONE]
    malformed: bool = False  # a broken JSON line/body instead of a valid one
    cut_by_limit: bool = False  # set by the server: the request's max_tokens / num_predict stopped the output


def _within_limit(body: dict[str, Any], script: Script, ollama: bool) -> Script:
    """The script as a real server would answer under the request's output limit (one chunk = one token here):
    Ollama's options.num_predict or OpenAI's max_tokens; the answer then ends with reason "length"."""
    limit = (body.get("options") or {}).get("num_predict") if ollama else body.get("max_tokens")
    if not isinstance(limit, int) or limit <= 0 or len(script.chunks) <= limit:
        return script
    return dataclasses.replace(script, chunks=script.chunks[:limit], tool_calls=[],
                               usage=(script.usage[0], limit) if script.usage is not None else None,
                               cut_by_limit=True)


@dataclass(frozen=True)
class LLMRequest:
    """A request as the fake saw it."""

    path: str
    headers: dict[str, str]
    json: Any
    time: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many concurrent clients (gateway tests) must not be refused by a short backlog

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timeout tests) is expected; stay quiet."""


class FakeLLMServer:
    """Both protocols on 127.0.0.1:<ephemeral port>; queue Scripts with .script(), read .requests."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._queue: list[Script] = []
        self.requests: list[LLMRequest] = []
        self.disconnects = 0  # streams the client hung up on before the end
        self.responder: Callable[[dict[str, Any]], Script] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL for LLM_BASE_URL (both /api/chat and /v1/chat/completions live under it)."""
        assert self._server is not None, "FakeLLMServer is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeLLMServer:
        """Listen on an ephemeral port and serve in daemon threads."""
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._server = None

    def script(self, *scripts: Script) -> None:
        """Answer the next requests with these scripts, in order."""
        with self.lock:
            self._queue.extend(scripts)

    def next_script(self, body: dict[str, Any]) -> Script:
        with self.lock:
            if self._queue:
                return self._queue.pop(0)
        return self.responder(body) if self.responder else Script()

    def record(self, request: LLMRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def note_disconnect(self) -> None:
        with self.lock:
            self.disconnects += 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_fake: FakeLLMServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """No access log."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        """The model lists health checks read: Ollama's /api/tags, OpenAI's /v1/models."""
        if self.path == "/api/tags":
            payload = {"models": [{"name": "qwen3:32b", "model": "qwen3:32b", "modified_at": "2026-01-01T00:00:00Z",
                                   "size": 20_000_000_000, "digest": "sha256:0", "details": {"family": "qwen3"}}]}
        elif self.path == "/v1/models":
            payload = {"object": "list", "data": [{"id": "qwen3", "object": "model", "created": 1767225600,
                                                   "owned_by": "library"}]}
        else:
            self._send(404, "text/plain", b"404 page not found")
            return
        self._send(200, "application/json; charset=utf-8", json.dumps(payload).encode())

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(400, "application/json", b'{"error":"invalid JSON body"}')
            return
        fake = self.server_fake
        fake.record(LLMRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
        if self.path not in ("/api/chat", "/v1/chat/completions"):
            self._send(404, "text/plain", b"404 page not found")
            return
        ollama = self.path == "/api/chat"
        script = _within_limit(body, fake.next_script(body), ollama)
        if script.status != 200:
            self._send(script.status, "application/json", script.error_body.encode())
            return
        if not body.get("stream", ollama):  # Ollama streams unless told not to; OpenAI the other way round
            time.sleep(script.hang_before)
            payload = b'{"model": "qwen3", "message": {' if script.malformed else json.dumps(
                _ollama_whole(body, script) if ollama else _openai_whole(body, script), ensure_ascii=False).encode()
            self._send(200, "application/json; charset=utf-8", payload)
            return
        self._stream(body, script, ollama)

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, body: dict[str, Any], script: Script, ollama: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson" if ollama else "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        events = _ollama_events(body, script) if ollama else _openai_events(body, script)
        try:
            time.sleep(script.hang_before)
            for index, event in enumerate(events):
                if script.cut_after is not None and index >= script.cut_after:
                    self.close_connection = True
                    self.wfile.write(b"0\r\n")  # a broken chunked body: no final CRLF, connection closed
                    self.wfile.flush()
                    return
                if script.malformed and index == 1:
                    event = b'{"model": "qwen3", "message": {"content": "unterminated\n' if ollama else b'data: {"choices": [\n\n'
                self._chunk(event)
                time.sleep(script.chunk_delay)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self.server_fake.note_disconnect()


def _model(body: dict[str, Any]) -> str:
    return str(body.get("model") or "qwen3:32b")


def _ollama_tool_calls(script: Script) -> list[dict[str, Any]]:
    return [{"function": {"name": name, "arguments": args}} for name, args in script.tool_calls]


def _ollama_whole(body: dict[str, Any], script: Script) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(script.chunks)}
    if script.thinking:
        message["thinking"] = script.thinking
    if script.tool_calls:
        message["tool_calls"] = _ollama_tool_calls(script)
    whole = {"model": _model(body), "created_at": CREATED_AT, "message": message, "done_reason": "length" if script.cut_by_limit else "stop", "done": True,
             "total_duration": 1_000_000, "load_duration": 100}
    if script.usage is not None:
        whole.update({"prompt_eval_count": script.usage[0], "prompt_eval_duration": 1000,
                      "eval_count": script.usage[1], "eval_duration": 1000})
    return whole


def _ollama_events(body: dict[str, Any], script: Script) -> list[bytes]:
    def line(obj: dict[str, Any]) -> bytes:
        return json.dumps(obj, ensure_ascii=False).encode() + b"\n"

    model = _model(body)
    events = []
    if script.thinking:
        events.append(line({"model": model, "created_at": CREATED_AT,
                            "message": {"role": "assistant", "content": "", "thinking": script.thinking}, "done": False}))
    events += [line({"model": model, "created_at": CREATED_AT, "message": {"role": "assistant", "content": chunk},
                     "done": False}) for chunk in script.chunks]
    if script.tool_calls:
        events.append(line({"model": model, "created_at": CREATED_AT, "done": False, "message": {
            "role": "assistant", "content": "", "tool_calls": _ollama_tool_calls(script)}}))
    final = _ollama_whole(body, script)
    final["message"] = {"role": "assistant", "content": ""}
    events.append(line(final))
    return events


def _finish(script: Script) -> str:
    return "length" if script.cut_by_limit else "tool_calls" if script.tool_calls else "stop"


def _openai_usage(script: Script) -> dict[str, int] | None:
    if script.usage is None:
        return None
    return {"prompt_tokens": script.usage[0], "completion_tokens": script.usage[1],
            "total_tokens": script.usage[0] + script.usage[1]}


def _openai_whole(body: dict[str, Any], script: Script) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(script.chunks) or None}
    if script.thinking:
        message["reasoning_content"] = script.thinking
    if script.tool_calls:
        message["tool_calls"] = [{"id": f"call_{i}", "type": "function",
                                  "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}
                                 for i, (name, args) in enumerate(script.tool_calls)]
    whole = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": 1763719200,
             "model": _model(body), "choices": [{"index": 0, "message": message,
                                                 "finish_reason": _finish(script)}]}
    if script.usage is not None:
        whole["usage"] = _openai_usage(script)
    return whole


def _openai_events(body: dict[str, Any], script: Script) -> list[bytes]:
    cid, model = f"chatcmpl-{uuid.uuid4().hex[:12]}", _model(body)

    def event(delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
        obj: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": 1763719200, "model": model,
                               "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage is not None:
            obj["usage"] = usage
        return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"

    events = [event({"role": "assistant", "content": ""})]
    if script.thinking:
        events.append(event({"reasoning_content": script.thinking}))
    events += [event({"content": chunk}) for chunk in script.chunks]
    for i, (name, args) in enumerate(script.tool_calls):
        text = json.dumps(args, ensure_ascii=False)
        half = len(text) // 2
        events.append(event({"tool_calls": [{"index": i, "id": f"call_{i}", "type": "function",
                                             "function": {"name": name, "arguments": ""}}]}))
        events.append(event({"tool_calls": [{"index": i, "function": {"arguments": text[:half]}}]}))
        events.append(event({"tool_calls": [{"index": i, "function": {"arguments": text[half:]}}]}))
    events.append(event({}, _finish(script)))
    if (body.get("stream_options") or {}).get("include_usage") and script.usage is not None:
        events.append(event(None, usage=_openai_usage(script)))
    events.append(b"data: [DONE]\n\n")
    return events
