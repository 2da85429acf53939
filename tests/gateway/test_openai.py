"""/v1/chat/completions and /v1/models against the fake upstream: streaming, think, usage, errors, fallbacks."""
from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from app.ai.models import LLMCall
from app.infra.db import db
from tests.fakes.llm_server import FakeLLMServer, Script
from tests.gateway.conftest import Gateway, models_inventory

ASK = {"model": "qwen3", "messages": [{"role": "user", "content": "why is the disk full?"}]}


def _post(gw: Gateway, token: str, body: dict[str, Any], **kw: Any) -> requests.Response:
    return requests.post(f"{gw.url}/v1/chat/completions", json=body, headers=gw.headers(token), timeout=10, **kw)


def _events(resp: requests.Response) -> list[Any]:
    out = []
    for block in resp.text.split("\n\n"):
        if block.startswith("data: "):
            data = block[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def _content(events: list[Any]) -> str:
    return "".join((c.get("delta") or {}).get("content") or "" for e in events if isinstance(e, dict) for c in e.get("choices") or [])


def _calls(gw: Gateway) -> list[LLMCall]:
    with gw.app.app_context():
        rows = list(db.session.execute(select(LLMCall).order_by(LLMCall.id)).scalars())
        db.session.expunge_all()
        return rows


def _wait_calls(gw: Gateway, count: int) -> list[LLMCall]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = _calls(gw)
        if len(rows) >= count:
            return rows
        time.sleep(0.05)
    raise AssertionError(f"expected {count} llm_calls rows, found {len(_calls(gw))}")


def test_whole_answer_is_forwarded_with_defaults_and_metered(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    llm_server.script(Script(chunks=["Disk ", "is full."], usage=(120, 9)))
    resp = _post(gateway, token, {**ASK, "temperature": 0.2})
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "Disk is full."
    upstream = llm_server.requests[-1]
    assert upstream.path == "/v1/chat/completions"
    assert upstream.json["model"] == "qwen3:32b" and upstream.json["max_tokens"] == 256 and upstream.json["temperature"] == 0.2
    assert "authorization" not in upstream.headers  # the client's gateway token never reaches the upstream
    [row] = _wait_calls(gateway, 1)
    assert (row.client, row.user_id, row.model, row.upstream, row.provider) == ("notebook", "web:dev", "qwen3", "qwen3", "openai")
    assert (row.input_tokens, row.output_tokens, row.tokens_estimated, row.status) == (120, 9, False, "ok")
    assert row.ttft_ms is not None and row.duration_ms >= row.ttft_ms


def test_stream_arrives_event_by_event_with_usage_read(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    llm_server.script(Script(chunks=["a", "b", "c"], usage=(10, 3), chunk_delay=0.3))
    started = time.monotonic()
    with _post(gateway, token, {**ASK, "stream": True}, stream=True) as resp:
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        lines = resp.iter_lines()
        first = next(lines)
        first_at = time.monotonic() - started
        text = "\n\n".join(line.decode() for line in [first, *lines] if line)
    assert first.startswith(b"data: ") and first_at < 0.25  # not buffered until the end (~1.2 s)
    events = _events(type("R", (), {"text": text})())  # type: ignore[arg-type]
    assert _content(events) == "abc" and events[-1] == "[DONE]"
    assert not any(isinstance(e, dict) and e.get("usage") for e in events)  # the client did not ask for usage
    assert llm_server.requests[-1].json["stream_options"] == {"include_usage": True}
    [row] = _wait_calls(gateway, 1)
    assert (row.input_tokens, row.output_tokens, row.tokens_estimated) == (10, 3, False)
    assert row.ttft_ms is not None and row.ttft_ms < row.duration_ms


def test_stream_keeps_usage_when_the_client_asks(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    llm_server.script(Script(usage=(5, 2)))
    events = _events(_post(gateway, token, {**ASK, "stream": True, "stream_options": {"include_usage": True}}))
    assert [e["usage"]["completion_tokens"] for e in events if isinstance(e, dict) and e.get("usage")] == [2]


def test_think_is_stripped_or_passed_per_model(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    chunks = ["<thi", "nk>secret plan", "</th", "ink>\n\nRestart ", "nginx."]
    llm_server.script(Script(chunks=chunks, thinking="reasoning text"), Script(chunks=chunks, thinking="reasoning text"),
                      Script(chunks=chunks, thinking="reasoning text"))
    streamed = _post(gateway, token, {**ASK, "stream": True})
    assert _content(_events(streamed)) == "Restart nginx." and "reasoning" not in streamed.text
    whole = _post(gateway, token, ASK).json()["choices"][0]["message"]
    assert whole["content"] == "Restart nginx." and "reasoning_content" not in whole
    raw = _post(gateway, token, {**ASK, "model": "qwen3-raw", "stream": True})
    assert _content(_events(raw)) == "".join(chunks) and "reasoning text" in raw.text


def test_usage_absent_is_estimated_and_marked(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    llm_server.script(Script(chunks=["twelve chars"], usage=None), Script(chunks=["twelve chars"], usage=None))
    assert _post(gateway, token, ASK).status_code == 200
    assert _content(_events(_post(gateway, token, {**ASK, "stream": True}))) == "twelve chars"
    rows = _wait_calls(gateway, 2)
    assert [(r.tokens_estimated, r.output_tokens) for r in rows] == [(True, 3), (True, 3)]
    assert all(r.input_tokens == 6 for r in rows)  # "why is the disk full?" is 21 characters


def test_upstream_4xx_and_5xx_become_openai_errors_with_their_status(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    llm_server.script(Script(status=400, error_body='{"error": {"message": "context too long"}}'), Script(status=503))
    bad = _post(gateway, token, ASK)
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "upstream answered HTTP 400: context too long"
    assert bad.json()["error"]["type"] == "invalid_request_error"
    down = _post(gateway, token, {**ASK, "stream": True})
    assert down.status_code == 503 and down.json()["error"]["type"] == "upstream_error"
    rows = _wait_calls(gateway, 2)
    assert [r.status for r in rows] == ["error", "error"] and "error_request" in rows[0].tags


def test_upstream_silence_is_a_504(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    llm_server.script(Script(hang_before=3.0))
    resp = _post(gateway, token, ASK)
    assert resp.status_code == 504 and resp.json()["error"]["code"] == "upstream_timeout"


def test_stream_cut_by_the_upstream_ends_with_an_error_event(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    llm_server.script(Script(chunks=["Step 1: ", "check", " disk"], cut_after=2))
    events = _events(_post(gateway, token, {**ASK, "stream": True}))
    assert _content(events) == "Step 1: " and events[-1]["error"]["type"] == "upstream_error"
    [row] = _wait_calls(gateway, 1)
    assert row.status == "error"


def test_client_disconnect_cancels_the_upstream_stream(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    llm_server.script(Script(chunks=["word "] * 100, chunk_delay=0.05))
    resp = _post(gateway, token, {**ASK, "stream": True}, stream=True)
    lines = resp.iter_lines()
    assert next(lines).startswith(b"data: ")
    resp.raw._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)  # hang up mid-stream
    resp.close()
    deadline = time.monotonic() + 4
    while llm_server.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert llm_server.disconnects == 1  # the upstream saw the gateway hang up: generation stopped
    [row] = _wait_calls(gateway, 1)
    assert row.status == "error" and row.error == "the client disconnected"


def test_fallback_answers_when_the_upstream_is_down(serve: Callable[..., Gateway], llm_server: FakeLLMServer,
                                                    tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    models = {"big": {"provider": "openai", "base_url": f"http://127.0.0.1:{dead}", "fallbacks": ["small"]},
              "small": {"provider": "ollama", "base_url": llm_server.url, "model": "qwen3:8b"}}
    gw = serve(OPENCLAW_CONFIG=models_inventory(tmp_path, models))
    resp = _post(gw, gw.token(), {**ASK, "model": "big"})
    assert resp.status_code == 200 and resp.json()["choices"][0]["message"]["content"] == "Fake answer."
    assert llm_server.requests[-1].json["model"] == "qwen3:8b"
    [row] = _wait_calls(gw, 1)
    assert (row.model, row.upstream, row.provider) == ("big", "small", "ollama")


def test_unknown_model_and_bad_bodies_are_refused_clearly(gateway: Gateway) -> None:
    token = gateway.token()
    missing = _post(gateway, token, {**ASK, "model": "gpt-5"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    broken = requests.post(f"{gateway.url}/v1/chat/completions", data=b"{nope", headers=gateway.headers(token), timeout=5)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    assert _post(gateway, token, {"model": "qwen3"}).json()["error"]["code"] == "invalid_messages"


def test_tokens_are_required_and_a_revoked_token_is_refused_at_once(gateway: Gateway) -> None:
    anonymous = requests.post(f"{gateway.url}/v1/chat/completions", json=ASK, timeout=5)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "invalid_api_key"
    token = gateway.token()
    assert _post(gateway, token, ASK).status_code == 200
    with gateway.app.app_context():
        from app.users.models import ApiToken
        from app.users.tokens import revoke_token

        token_id = db.session.execute(select(ApiToken.id)).scalar_one()
        revoke_token(token_id=token_id, actor="test")
        db.session.remove()
    refused = _post(gateway, token, ASK)
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"


def test_models_lists_public_names(gateway: Gateway) -> None:
    token = gateway.token()
    resp = requests.get(f"{gateway.url}/v1/models", headers=gateway.headers(token), timeout=5)
    assert [m["id"] for m in resp.json()["data"]] == ["qwen3", "qwen3-ollama", "qwen3-raw"]
    assert requests.get(f"{gateway.url}/v1/models", timeout=5).status_code == 401


def test_without_models_the_gateway_serves_llm_model(serve: Callable[..., Gateway], llm_server: FakeLLMServer) -> None:
    gw = serve(LLM_BASE_URL=llm_server.url)
    token = gw.token()
    assert [m["id"] for m in requests.get(f"{gw.url}/v1/models", headers=gw.headers(token), timeout=5).json()["data"]] == ["qwen3"]
    assert _post(gw, token, ASK).status_code == 200 and llm_server.requests[-1].json["model"] == "qwen3"


def test_a_long_request_id_is_cut_and_a_bad_row_does_not_cost_the_batch(gateway: Gateway) -> None:
    from app.gateway.meter import get_writer

    token = gateway.token()
    long_id = "r" * 500
    resp = requests.post(f"{gateway.url}/v1/chat/completions", json=ASK, timeout=10,
                         headers={**gateway.headers(token), "X-Request-ID": long_id})
    assert resp.status_code == 200
    [row] = _wait_calls(gateway, 1)
    assert row.request_id == long_id[:160]
    with gateway.app.app_context():
        writer = get_writer()
        good = {"request_id": "good", "client": "x", "user_id": None, "chat_id": None, "provider": "openai",
                "model": "qwen3", "upstream": "qwen3", "input_tokens": 1, "output_tokens": 1, "tokens_estimated": False,
                "duration_ms": 1.0, "ttft_ms": None, "status": "ok", "error": None, "token_efficiency": 1.0, "tags": []}
        writer.put({**good, "model": "m" * 300})  # too long for the column: this row alone is lost
        writer.put(good)
        writer.flush()
    assert [r.request_id for r in _calls(gateway)] == [long_id[:160], "good"]
