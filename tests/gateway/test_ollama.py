"""/api/chat (Ollama's wire format) to an Ollama upstream and, translated, to an OpenAI-only one."""
from __future__ import annotations

import json
from typing import Any

import requests

from tests.fakes.llm_server import FakeLLMServer, Script
from tests.gateway.conftest import Gateway
from tests.gateway.test_openai import _wait_calls

ASK = {"messages": [{"role": "user", "content": "why?"}]}


def _chat(gw: Gateway, token: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{gw.url}/api/chat", json=body, headers=gw.headers(token), timeout=10)


def _lines(resp: requests.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in resp.text.splitlines() if line.strip()]


def test_streams_ndjson_from_an_ollama_upstream(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    llm_server.script(Script(chunks=["<think>hm</think>", "Disk ", "full."], thinking="t", usage=(30, 4)))
    resp = _chat(gateway, token, {**ASK, "model": "qwen3-ollama"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/x-ndjson")
    lines = _lines(resp)
    assert "".join(line["message"]["content"] for line in lines) == "Disk full."
    assert lines[-1]["done"] is True and lines[-1]["eval_count"] == 4
    assert not any("thinking" in line["message"] for line in lines)
    upstream = llm_server.requests[-1]
    assert upstream.path == "/api/chat" and upstream.json["model"] == "qwen3:8b"
    [row] = _wait_calls(gateway, 1)
    assert (row.input_tokens, row.output_tokens, row.tokens_estimated, row.model) == (30, 4, False, "qwen3-ollama")


def test_whole_answer_and_defaults_in_options(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    resp = _chat(gateway, token, {**ASK, "model": "qwen3-ollama", "stream": False, "options": {"temperature": 0.1}})
    assert resp.json()["message"]["content"] == "Fake answer." and resp.json()["done"] is True
    assert llm_server.requests[-1].json["options"] == {"temperature": 0.1}


def test_translated_for_an_openai_only_upstream(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    llm_server.script(Script(chunks=["a", "b"], usage=(8, 2)), Script(chunks=["whole"], usage=(8, 1)))
    lines = _lines(_chat(gateway, token, {**ASK, "model": "qwen3", "options": {"num_predict": 32}}))
    assert "".join(line["message"]["content"] for line in lines) == "ab"
    assert lines[-1]["done"] is True and (lines[-1]["prompt_eval_count"], lines[-1]["eval_count"]) == (8, 2)
    sent = llm_server.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.json["max_tokens"] == 32 and sent.json["stream"] is True
    whole = _chat(gateway, token, {**ASK, "model": "qwen3", "stream": False}).json()
    assert whole["message"]["content"] == "whole" and whole["eval_count"] == 1
    assert llm_server.requests[-1].json["max_tokens"] == 256  # the model's default


def test_errors_are_ollama_shaped(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    token = gateway.token()
    llm_server.script(Script(status=500))
    resp = _chat(gateway, token, {**ASK, "model": "qwen3-ollama"})
    assert resp.status_code == 500 and resp.json() == {"error": "upstream answered HTTP 500: model crashed"}
    assert requests.post(f"{gateway.url}/api/chat", json={**ASK, "model": "x"}, timeout=5).status_code == 401
    assert _chat(gateway, token, {**ASK, "model": "nope"}).status_code == 404
