"""answer(): a grounded reply to free text: limits, KB retrieval, memory, bounded tool rounds, metering.

The chat layer passes in the tools (schemas plus a runner that goes through dispatch), so
this domain never executes anything itself; it only hands the model's requests back.
"""
from __future__ import annotations

import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import current_app

from app.ai import client as llm
from app.ai.client import ChatResult, DeadlinePassed, LLMClient, ToolCall
from app.ai.limits import get_limits
from app.ai.memory import get_memory, key_for
from app.ai.metering import CallMeta, measure
from app.ai.prompts import render
from app.kb import search as kb_search
from app.kb.models import Article
from app.kb.terms import query_terms
from app.infra.db import db

logger = logging.getLogger(__name__)

EXTENSION = "openclaw.ai.client"
MAX_PASSAGES = 3
MIN_MATCHED = 2  # distinct question terms an article must share (one shared word is usually chance)
RELATIVE_SCORE = 0.35  # keep hits scoring at least this fraction of the best one
NOTHING_FOUND = "_No knowledge-base article matched this question, so this is not from the team's runbooks._"
CUT_OFF = "_(The answer was cut off at the model's length limit, LLM_MAX_TOKENS.)_"


class Stream(Protocol):
    """Where streamed text goes (a Feishu card); restart() when a tool round discards a draft."""

    def delta(self, text: str) -> None: ...
    def note(self, text: str) -> None: ...
    def restart(self) -> None: ...


@dataclass(frozen=True)
class Asker:
    """Who is asking, where, with which role; request_id ties the model calls to the event."""

    open_id: str
    chat_id: str
    chat_type: str
    role: str
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Passage:
    """A retrieved piece of an article, as shown to the model and cited in the answer."""

    article_id: int
    title: str
    text: str


@dataclass
class Answer:
    """The assistant's answer: markdown text (citations included), the articles cited, tool use, tokens."""

    text: str
    sources: list[Passage]
    tool_calls: list[ToolCall] = field(default_factory=list)
    tokens: int = 0


@dataclass(frozen=True)
class Toolbox:
    """Tool schemas offered to the model and the runner that executes one call (via dispatch)."""

    schemas: list[dict[str, Any]]
    names: list[str]
    run: Callable[[ToolCall], str]


def get_client() -> LLMClient:
    """The app's LLMClient (one per app, so its connection pool is reused)."""
    client: LLMClient | None = current_app.extensions.get(EXTENSION)
    if client is None:
        client = current_app.extensions.setdefault(EXTENSION, llm.from_config(current_app.config))
    return client


def retrieve(question: str) -> list[Passage]:
    """The best knowledge-base passages for question (at most MAX_PASSAGES articles)."""
    hits = kb_search.search(question, limit=MAX_PASSAGES, snippets=False)
    needed = min(MIN_MATCHED, len(query_terms(question)))
    hits = [hit for hit in hits if hit.matched >= needed]
    if not hits:
        return []
    floor = hits[0].score * RELATIVE_SCORE
    passages = []
    for hit in hits:
        article = db.session.get(Article, hit.article_id)
        if hit.score >= floor and article is not None:
            passages.append(Passage(hit.article_id, hit.title, kb_search.passages(article, question)))
    return passages


def _fence(text: str, boundary: str) -> str:
    """Data text that cannot close or open a DATA block of its own."""
    return text.replace("<<<", "‹‹‹").replace(boundary, "[boundary]")


def build_messages(*, asker: Asker, question: str, passages: list[Passage], history: list[dict[str, str]],
                   tool_names: list[str], rounds: int, boundary: str) -> list[dict[str, Any]]:
    """System prompt, the remembered turns, and the question with its passages as fenced DATA."""
    system = render("system", boundary=boundary, tools=tool_names, rounds=rounds, role=asker.role)
    fenced = [Passage(p.article_id, _fence(p.title, boundary), _fence(p.text, boundary)) for p in passages]
    user = render("question", question=question, passages=fenced, boundary=boundary)
    return [{"role": "system", "content": system}, *history, {"role": "user", "content": user}]


def cite(text: str, passages: list[Passage], used_tools: bool) -> tuple[str, list[Passage]]:
    """The answer with a sources line (articles the model named, else all it was given), or the not-found note."""
    if not passages:
        return (text if used_tools else f"{text}\n\n{NOTHING_FOUND}"), []
    named = [p for p in passages if re.search(rf"#{p.article_id}(?!\d)", text)]
    sources = named or passages
    line = " · ".join(f"#{p.article_id} {p.title}" for p in sources)
    return f"{text}\n\n**Sources:** {line} (read with /kb show ID)", sources


def _run_tools(client: LLMClient, result: ChatResult, toolbox: Toolbox, messages: list[dict[str, Any]], *,
               boundary: str, deadline: float, stream: Stream | None, cap: int, request_id: str) -> list[ToolCall]:
    """Run at most cap of the round's tool calls, before deadline; the model is told about the rest."""
    calls, dropped = result.tool_calls[:cap], len(result.tool_calls) - cap
    if dropped > 0:
        logger.warning("model asked for too many tool calls", extra={"request_id": request_id, "asked": len(
            result.tool_calls), "run": cap})
    messages.append(client.assistant_message(ChatResult(content=result.content, tool_calls=calls)))
    for index, call in enumerate(calls):
        if time.monotonic() > deadline:
            raise DeadlinePassed("the answer deadline passed between tool calls")
        if stream:
            stream.note(f"Looking up: {call.name}")
        output = toolbox.run(call)
        if dropped > 0 and index == len(calls) - 1:
            output += (f"\n\n({dropped} more tool calls in this round were not run: at most {cap} per round. "
                       "Answer with what you have.)")
        fenced = render("tool_result", name=call.name, text=_fence(output, boundary), boundary=boundary)
        messages.append(client.tool_message(call, fenced))
    return calls


def answer(*, asker: Asker, question: str, toolbox: Toolbox | None = None, stream: Stream | None = None) -> Answer:
    """Answer question for asker; LimitExceeded or LLMUnavailable (with the partial text) on failure."""
    config = current_app.config
    limits = get_limits()
    limits.check_message(asker.open_id)
    client = get_client()
    memory, memory_key = get_memory(), key_for(chat_id=asker.chat_id, chat_type=asker.chat_type, open_id=asker.open_id)
    passages = retrieve(question)
    rounds = int(config["LLM_TOOL_ROUNDS"])
    boundary = secrets.token_hex(6)
    messages = build_messages(asker=asker, question=question, passages=passages, history=memory.load(memory_key),
                              tool_names=toolbox.names if toolbox else [], rounds=rounds, boundary=boundary)
    meta = CallMeta(asker.request_id, asker.open_id, asker.chat_id, role=asker.role)
    deadline = time.monotonic() + int(config["LLM_ANSWER_DEADLINE"])
    try:
        result, used, tokens = _converse(client, messages, meta, toolbox, stream, asker, rounds, boundary, deadline)
    except llm.LLMUnavailable as exc:
        if not exc.partial:  # nothing reached the person yet: the knowledge base still has something to say
            exc.user_message = f"{exc.user_message}\n\n{kb_fallback(passages)}"
        raise
    text = result.content or "(The model returned no text.)"
    if result.truncated:
        text = f"{text}\n\n{CUT_OFF}"
    text, sources = cite(text, passages, bool(used))
    memory.append(memory_key, question, result.content)
    logger.info("assistant answered", extra={"request_id": asker.request_id, "open_id": asker.open_id,
                                             "sources": [p.article_id for p in sources], "tool_calls": len(used)})
    return Answer(text, sources, used, tokens)


def kb_fallback(passages: list[Passage]) -> str:
    """The matching articles, for when the model cannot answer."""
    if not passages:
        return "No knowledge-base article matches the question either; /kb search TEXT looks further."
    lines = ["Meanwhile, from the knowledge base:"]
    for passage in passages:
        excerpt = " ".join(passage.text.split())
        excerpt = excerpt if len(excerpt) <= 300 else excerpt[:300].rsplit(" ", 1)[0] + " …"
        lines.append(f"#{passage.article_id} {passage.title}: {excerpt}")
    lines.append("Read one with /kb show ID.")
    return "\n".join(lines)


def _converse(client: LLMClient, messages: list[dict[str, Any]], meta: CallMeta, toolbox: Toolbox | None,
              stream: Stream | None, asker: Asker, rounds: int, boundary: str,
              deadline: float) -> tuple[ChatResult, list[ToolCall], int]:
    """The model calls of one answer, with bounded tool rounds, tool calls and time: the last result,
    the tools used, tokens spent."""
    config = current_app.config
    limits = get_limits()
    used: list[ToolCall] = []
    tokens = 0
    result = ChatResult()
    for round_ in range(rounds + 1):
        offer = toolbox.schemas if toolbox and toolbox.schemas and round_ < rounds else None
        result = measure(client, messages, meta=meta, slow_ms=int(config["LLM_SLOW_MS"]), tools=offer,
                         on_delta=stream.delta if stream else None, deadline=deadline)
        tokens += result.input_tokens + result.output_tokens
        limits.add_tokens(asker.open_id, result.input_tokens + result.output_tokens)
        if not result.tool_calls or offer is None or toolbox is None:
            break
        if stream:
            stream.restart()
        used += _run_tools(client, result, toolbox, messages, boundary=boundary, deadline=deadline, stream=stream,
                           cap=int(config["LLM_MAX_TOOL_CALLS"]), request_id=asker.request_id)
        result = ChatResult()
    return result, used, tokens
