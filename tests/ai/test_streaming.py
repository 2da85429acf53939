"""Streaming answers into a Feishu card: first a card, PATCHes as text arrives, final markdown or a cut-off note."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from app.ai import service
from app.chat.streaming import CardStream, answer_card
from tests.ai.chat_helpers import say
from tests.fakes.llm_server import FakeLLMServer, Script


def _markdown(card: dict[str, Any]) -> str:
    return str(card["body"]["elements"][0]["content"])


def _card_message(feishu_server: Any) -> Any:
    cards = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    assert len(cards) == 1, feishu_server.messages()
    return cards[0]


def test_answer_streams_into_one_card_and_ends_with_the_final_markdown(
    ai_app: Flask, llm_server: FakeLLMServer, feishu_server: Any
) -> None:
    llm_server.script(Script(chunks=["<think>hidden</think>", "First ", "second ", "third."]))
    replies = say("how are things?", source="feishu")
    assert len(replies) == 1 and replies[0].delivered
    message = _card_message(feishu_server)
    assert message.content["schema"] == "2.0" and message.content["config"]["update_multi"] is True
    assert len(message.updates) >= 2  # streamed updates, then the final one
    final = _markdown(message.updates[-1])
    assert final.startswith("First second third.") and "hidden" not in final
    streamed = [_markdown(card) for card in message.updates[:-1]]
    assert all("First second third.".startswith(text) or text == "…" for text in streamed)
    assert not [m for m in feishu_server.messages() if m.msg_type == "text"]  # delivery did not send it again


def test_cut_off_stream_leaves_a_readable_card(ai_app: Flask, llm_server: FakeLLMServer, feishu_server: Any) -> None:
    llm_server.script(Script(chunks=["Step one: check ", "the disk. ", "Step two"], cut_after=3))
    say("disk?", source="feishu")
    final = _markdown(_card_message(feishu_server).updates[-1])
    assert final.startswith("Step one: check the disk.") and "cut off" in final
    assert _card_message(feishu_server).updates[-1]["header"]["template"] == "orange"


def test_model_down_before_any_text_says_so_in_the_card(ai_app: Flask, llm_server: FakeLLMServer, feishu_server: Any) -> None:
    llm_server.script(Script(status=500))
    say("hello?", source="feishu")
    final = _markdown(_card_message(feishu_server).updates[-1])
    assert final.startswith("**No answer:**") and "unavailable" in final


def test_updates_are_at_least_the_interval_apart(
    make_app: Callable[..., Flask], llm_server: FakeLLMServer, feishu_server: Any
) -> None:
    app = make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
                   LLM_BASE_URL=llm_server.url, LLM_STREAM_INTERVAL_MS="300")
    llm_server.script(Script(chunks=[f"w{n} " for n in range(20)], chunk_delay=0.05))  # about 1 s of streaming
    with app.app_context():
        say("stream please", source="feishu")
    patches = feishu_server.requests_to("/open-apis/im/v1/messages/om_", "PATCH")
    gaps = [b.time - a.time for a, b in zip(patches, patches[1:-1])]  # the final update is sent at once
    assert 2 <= len(patches) <= 8 and all(gap >= 0.2 for gap in gaps)  # unthrottled, they would be ~0.05 s apart


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RecordingClient:
    """Stands in for FeishuClient in the unit test of the throttle logic."""

    def __init__(self) -> None:
        self.cards: list[dict[str, Any]] = []

    def reply_card(self, message_id: str, card: dict[str, Any], **_: Any) -> str:
        self.cards.append(card)
        return "om_card"

    def update_card(self, message_id: str, card: dict[str, Any]) -> None:
        self.cards.append(card)


def test_card_stream_patches_only_after_the_interval() -> None:
    clock, client = FakeClock(), RecordingClient()
    stream = CardStream(client, message_id="om_q", chat_id="oc_1", interval=0.5, clock=clock)
    stream.open()
    for n in range(10):
        clock.now += 0.125
        stream.delta(f"{n}")
    stream.finish("0123456789")
    assert [_markdown(c) for c in client.cards] == ["…", "0123", "01234567", "0123456789"]


def test_answer_card_is_json_2_with_a_footer() -> None:
    card = answer_card("**hi**", footer="done")
    assert card["schema"] == "2.0" and card["body"]["elements"][1]["text"]["content"] == "done"


def test_an_internal_error_mid_answer_still_leaves_a_readable_card(
    ai_app: Flask, llm_server: FakeLLMServer, feishu_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(question: str) -> list[Any]:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(service, "retrieve", broken)
    with pytest.raises(RuntimeError):
        say("anything?", source="feishu")
    final = _markdown(_card_message(feishu_server).updates[-1])
    assert "internal error" in final
