"""The assistant hook: text that is not a command gets a grounded answer, streamed into a card on Feishu."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from flask import current_app

from app.ai import service as ai
from app.ai.client import LLMUnavailable
from app.ai.limits import LimitExceeded
from app.chat import tools
from app.chat.types import CommandContext, Reply, Role
from app.errors import BotError
from app.kb import drafts
from app.kb import service as kb

logger = logging.getLogger(__name__)


def _asker(ctx: CommandContext) -> ai.Asker:
    """The sender, for the assistant; the event id ties the model calls to the event."""
    asker = ai.Asker(ctx.open_id, ctx.chat_id, ctx.chat_type, ctx.role.value)
    request_id = ctx.event_id or ctx.message_id
    return dataclasses.replace(asker, request_id=request_id) if request_id else asker


def _toolbox(ctx: CommandContext) -> ai.Toolbox:
    offered = tools.available(ctx)
    return ai.Toolbox([t.schema() for t in offered], [t.name for t in offered], lambda call: tools.run(ctx, call))


def _finish_draft(ctx: CommandContext, text: str) -> Reply | None:
    """The text after `/kb add TITLE` is that article's body."""
    title = drafts.take(chat_id=ctx.chat_id, open_id=ctx.open_id)
    if title is None:
        return None
    if not ctx.role.at_least(Role.OPERATOR):
        return Reply.of_text(f"Refused: adding to the knowledge base needs the operator role; you have {ctx.role.value}.")
    existing = kb.get_article_by_title(title)
    try:
        if existing is not None:
            article = kb.update_article(article_id=existing.id, body=text, author=ctx.open_id, chat_id=ctx.chat_id)
            return Reply.of_text(f"Saved #{article.id} {article.title} as version {article.version}.")
        article = kb.add_article(title=title, body=text, author=ctx.open_id, chat_id=ctx.chat_id)
    except BotError as exc:
        return Reply.of_text(exc.user_message)
    return Reply.of_text(f"Saved #{article.id} {article.title}. Find it with /kb search or /kb show {article.id}.")


def _streams_to_feishu(ctx: CommandContext) -> bool:
    config = current_app.config
    return ctx.source == "feishu" and bool(ctx.message_id) and bool(config.get("FEISHU_APP_ID"))


def answer(ctx: CommandContext, text: str) -> Reply:
    """Answer free text from ctx's sender (a finished /kb add draft first, then the assistant)."""
    draft = _finish_draft(ctx, text)
    if draft is not None:
        return draft
    if _streams_to_feishu(ctx):
        return _stream(ctx, text)
    try:
        return Reply.of_text(ai.answer(asker=_asker(ctx), question=text, toolbox=_toolbox(ctx)).text)
    except (LimitExceeded, LLMUnavailable) as exc:
        return Reply.of_text(exc.user_message)


def _stream(ctx: CommandContext, text: str) -> Reply:
    """Stream the answer into a card; if Feishu fails at the end, the answer is owed to the outbox.

    The model call is paid for once: whatever happens to the card, the text it produced is
    returned as a reply that delivery retries, never recomputed.
    """
    from app.chat.streaming import CardStream, answer_card
    from app.feishu.wiring import get_client

    interval = current_app.config["LLM_STREAM_INTERVAL_MS"] / 1000
    stream = CardStream(get_client(), message_id=str(ctx.message_id), chat_id=ctx.chat_id, interval=interval)
    stream.open()
    try:
        result = ai.answer(asker=_asker(ctx), question=text, toolbox=_toolbox(ctx), stream=stream)
    except LimitExceeded as exc:
        return _close(stream, lambda: stream.finish(exc.user_message), exc.user_message, ctx)
    except LLMUnavailable as exc:
        logger.warning("assistant answer failed", extra={"event_id": ctx.event_id, "error": str(exc)})
        return _close(stream, lambda: stream.fail(exc.user_message), exc.user_message, ctx)
    except Exception:
        # Whatever broke, the card must not stay at "Thinking…"; the event is then marked interrupted.
        logger.exception("assistant answer crashed", extra={"event_id": ctx.event_id})
        try:
            stream.fail("an internal error stopped the assistant; it has been logged.")
        except Exception:  # noqa: BLE001 - the original error is the one worth raising
            logger.exception("could not mark the card as cut off", extra={"event_id": ctx.event_id})
        raise
    final = answer_card(result.text, footer="Answered by the assistant: check before acting.")
    return _close(stream, lambda: stream.finish(result.text), result.text, ctx, card=final)


def _close(stream: object, last_update: Callable[[], None], text: str, ctx: CommandContext,
           card: dict[str, Any] | None = None) -> Reply:
    """Apply the stream's last update; when Feishu refuses it, return what is owed for the outbox."""
    try:
        last_update()
    except Exception as exc:  # noqa: BLE001 - the answer exists; only its delivery failed
        logger.warning("could not finish the assistant card; the outbox will deliver the answer",
                       extra={"event_id": ctx.event_id, "error": type(exc).__name__})
        card_id = getattr(stream, "card_id", None)
        if card is None:
            return Reply(text=text) if card_id is None else Reply(card=_cut_card(text), update_of=card_id)
        return Reply(card=card, update_of=card_id)
    return Reply(text=text, delivered=True)


def _cut_card(text: str) -> dict[str, Any]:
    from app.chat.streaming import answer_card

    return answer_card(text, footer="Answered by the assistant: check before acting.")
