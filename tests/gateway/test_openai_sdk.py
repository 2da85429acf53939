"""The official openai client, unmodified, pointed at the gateway: whole and streamed answers, a 429, a 401."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from tests.fakes.llm_server import FakeLLMServer, Script
from tests.gateway.conftest import Gateway, models_inventory


def _client(gw: Gateway, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=token, max_retries=0, timeout=10)


def test_openai_sdk_whole_and_streamed(gateway: Gateway, llm_server: FakeLLMServer) -> None:
    client = _client(gateway, gateway.token())
    llm_server.script(Script(chunks=["Disk ", "is full."], usage=(12, 4)), Script(chunks=["a", "<think>x</think>", "b"]))
    answer = client.chat.completions.create(model="qwen3", messages=[{"role": "user", "content": "why?"}])
    assert answer.choices[0].message.content == "Disk is full."
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (12, 4)
    stream = client.chat.completions.create(model="qwen3", messages=[{"role": "user", "content": "why?"}], stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "ab"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7
    assert [m.id for m in client.models.list()] == ["qwen3", "qwen3-ollama", "qwen3-raw"]


def test_openai_sdk_sees_rate_limits_and_bad_tokens(serve: Callable[..., Gateway], llm_server: FakeLLMServer,
                                                    tmp_path: Path) -> None:
    models = {"qwen3": {"provider": "openai", "base_url": llm_server.url}}
    gw = serve(OPENCLAW_CONFIG=models_inventory(tmp_path, models, {"limits": {"requests_per_minute": 1}}))
    client = _client(gw, gw.token())
    client.chat.completions.create(model="qwen3", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="qwen3", messages=[{"role": "user", "content": "x"}], stream=True)
    assert info.value.code == "rate_limit_exceeded" and info.value.response.headers["Retry-After"]
    with pytest.raises(openai.AuthenticationError):
        _client(gw, "oct_not-a-token").chat.completions.create(model="qwen3", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError):
        _client(gw, gw.token("b")).chat.completions.create(model="missing", messages=[{"role": "user", "content": "x"}])
