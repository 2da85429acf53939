"""LLMClient against the fake server, both protocols: streaming, <think>, usage, failures."""
from __future__ import annotations

import socket

import pytest

from app.ai.client import LLMClient, LLMUnavailable
from app.ai.think import ThinkFilter, strip_think
from tests.fakes.llm_server import FakeLLMServer, Script

PROVIDERS = ["ollama", "openai"]


def _client(server: FakeLLMServer, provider: str, **kw: object) -> LLMClient:
    return LLMClient(provider=provider, base_url=server.url, model="qwen3:8b", timeout=(1.0, 1.0), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_non_streaming_answer_has_content_and_usage(llm_server: FakeLLMServer, provider: str) -> None:
    llm_server.script(Script(chunks=["Disk ", "is full."], usage=(120, 9)))
    result = _client(llm_server, provider).chat([{"role": "user", "content": "why?"}])
    assert (result.content, result.input_tokens, result.output_tokens) == ("Disk is full.", 120, 9)
    body = llm_server.requests[-1].json
    assert body["stream"] is False and body["model"] == "qwen3:8b"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_streaming_calls_back_per_chunk_and_reports_usage(llm_server: FakeLLMServer, provider: str) -> None:
    llm_server.script(Script(chunks=["a", "b", "c"], usage=(10, 3)))
    seen: list[str] = []
    result = _client(llm_server, provider).chat([{"role": "user", "content": "x"}], on_delta=seen.append)
    assert seen == ["a", "b", "c"] and result.content == "abc"
    assert (result.input_tokens, result.output_tokens) == (10, 3)
    assert result.ttft_ms is not None and result.ttft_ms <= result.duration_ms
    body = llm_server.requests[-1].json
    if provider == "openai":
        assert body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
def test_think_blocks_split_across_chunks_are_never_shown(llm_server: FakeLLMServer, provider: str, stream: bool) -> None:
    llm_server.script(Script(chunks=["<thi", "nk>secret plan", " more</th", "ink>\n\nRestart ", "nginx."],
                             thinking="reasoning field text"))
    seen: list[str] = []
    result = _client(llm_server, provider).chat([{"role": "user", "content": "x"}], on_delta=seen.append if stream else None)
    assert result.content == "Restart nginx."
    assert "secret" not in "".join(seen) and "reasoning" not in "".join(seen)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unclosed_think_at_start_hides_everything(llm_server: FakeLLMServer, provider: str) -> None:
    llm_server.script(Script(chunks=["<think>still ", "thinking"]))
    assert _client(llm_server, provider).chat([{"role": "user", "content": "x"}], on_delta=lambda _: None).content == ""


def test_think_filter_and_strip_agree_on_every_split() -> None:
    text = "<think>plan <b></think>\nAnswer with <b>bold</b> and a < sign </thin"
    for size in range(1, len(text)):
        f = ThinkFilter()
        out = "".join(f.feed(text[i:i + size]) for i in range(0, len(text), size)) + f.flush()
        assert out == strip_think(text) == "Answer with <b>bold</b> and a < sign </thin"


def test_thinking_off_by_default_in_both_protocols(llm_server: FakeLLMServer) -> None:
    _client(llm_server, "ollama").chat([{"role": "system", "content": "S"}, {"role": "user", "content": "x"}])
    _client(llm_server, "openai").chat([{"role": "system", "content": "S"}, {"role": "user", "content": "x"}])
    ollama, openai = (r.json for r in llm_server.requests)
    assert ollama["think"] is False
    assert openai["messages"][0]["content"].endswith("/no_think")
    _client(llm_server, "openai", think=True).chat([{"role": "system", "content": "S"}])
    assert "/no_think" not in llm_server.requests[-1].json["messages"][0]["content"]


def test_api_key_is_sent_as_bearer(llm_server: FakeLLMServer) -> None:
    _client(llm_server, "openai", api_key="sk-test").chat([{"role": "user", "content": "x"}])
    assert llm_server.requests[-1].headers["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_are_decoded(llm_server: FakeLLMServer, provider: str, stream: bool) -> None:
    llm_server.script(Script(chunks=[], tool_calls=[("kb_search", {"query": "磁盘 满了"})]))
    result = _client(llm_server, provider).chat([{"role": "user", "content": "x"}], tools=[{"type": "function"}],
                                                on_delta=(lambda _: None) if stream else None)
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("kb_search", {"query": "磁盘 满了"})]
    assert llm_server.requests[-1].json["tools"] == [{"type": "function"}]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
def test_http_500_is_not_retried_and_says_unavailable(llm_server: FakeLLMServer, provider: str, stream: bool) -> None:
    llm_server.script(Script(status=500))
    with pytest.raises(LLMUnavailable) as info:
        _client(llm_server, provider).chat([{"role": "user", "content": "x"}], on_delta=(lambda _: None) if stream else None)
    assert "HTTP 500" in str(info.value) and "Traceback" not in info.value.user_message
    assert len(llm_server.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_read_timeout_before_first_token(llm_server: FakeLLMServer, provider: str) -> None:
    llm_server.script(Script(hang_before=2.0))
    with pytest.raises(LLMUnavailable, match="timed out|timeout"):
        _client(llm_server, provider).chat([{"role": "user", "content": "x"}])
    assert len(llm_server.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stall_mid_stream_keeps_partial_text_and_is_not_retried(llm_server: FakeLLMServer, provider: str) -> None:
    llm_server.script(Script(chunks=["Step 1: ", "check", " disk", " usage"], chunk_delay=0.0, cut_after=3 if provider == "ollama" else 4))
    with pytest.raises(LLMUnavailable) as info:
        _client(llm_server, provider).chat([{"role": "user", "content": "x"}], on_delta=lambda _: None)
    assert info.value.partial.startswith("Step 1: ")
    assert len(llm_server.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
def test_malformed_json_is_unavailable(llm_server: FakeLLMServer, provider: str, stream: bool) -> None:
    llm_server.script(Script(malformed=True))
    with pytest.raises(LLMUnavailable, match="malformed"):
        _client(llm_server, provider).chat([{"role": "user", "content": "x"}], on_delta=(lambda _: None) if stream else None)


def test_connection_refused_is_retried_then_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LLMClient(provider="ollama", base_url=f"http://127.0.0.1:{port}", model="m", timeout=(0.5, 0.5), retries=2)
    with pytest.raises(LLMUnavailable, match="cannot reach") as info:
        client.chat([{"role": "user", "content": "x"}])
    assert f"No model server answers at http://127.0.0.1:{port}" in info.value.user_message


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
def test_max_tokens_is_sent_and_a_cut_answer_is_marked(llm_server: FakeLLMServer, provider: str, stream: bool) -> None:
    llm_server.script(Script(chunks=["one ", "two ", "three ", "four"]))
    result = _client(llm_server, provider, max_tokens=2).chat([{"role": "user", "content": "x"}],
                                                             on_delta=(lambda _: None) if stream else None)
    body = llm_server.requests[-1].json
    sent = body["options"]["num_predict"] if provider == "ollama" else body["max_tokens"]
    assert sent == 2 and result.content == "one two" and result.truncated and result.output_tokens == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_deadline_bounds_a_trickling_stream(llm_server: FakeLLMServer, provider: str) -> None:
    """Each piece arrives within the read timeout, so only the overall deadline can stop it."""
    import time

    from app.ai.client import DeadlinePassed

    llm_server.script(Script(chunks=["x"] * 100, chunk_delay=0.1))  # 10 s if nothing stopped it
    started = time.monotonic()
    with pytest.raises(DeadlinePassed) as caught:
        _client(llm_server, provider).chat([{"role": "user", "content": "x"}], on_delta=lambda _: None,
                                           deadline=started + 0.5)
    assert time.monotonic() - started < 3 and caught.value.partial.startswith("x")
