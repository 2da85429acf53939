"""CardStream: an assistant answer streamed into one Feishu card (JSON 2.0), PATCHed as text arrives."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from app.feishu.markdown import sanitize

logger = logging.getLogger(__name__)

TITLE = "OpenClaw assistant"
WAITING = "…"
OPEN_TIMEOUT = 30.0
# The first card is sent while the knowledge base is searched and the model starts: off the critical path.
_openers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="openclaw-card")


def answer_card(text: str, *, footer: str, template: str = "blue") -> dict[str, Any]:
    """The assistant's card: markdown body and a grey footer line (status, or what went wrong).

    The body is the model's markdown: kept formatted, but its tags, mentions and non-http(s) links are defused.
    """
    return {
        "schema": "2.0",
        "config": {"update_multi": True, "summary": {"content": (text or footer)[:60]}},
        "header": {"title": {"tag": "plain_text", "content": TITLE}, "template": template},
        "body": {"elements": [
            {"tag": "markdown", "content": sanitize(text) or WAITING},
            {"tag": "div", "text": {"tag": "plain_text", "content": footer, "text_size": "notation", "text_color": "grey"}},
        ]},
    }


class CardStream:
    """Reply with a card at once, then PATCH it at most every `interval` seconds while text streams in."""

    def __init__(self, client: Any, *, message_id: str, chat_id: str, interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client, self._message_id, self._chat_id = client, message_id, chat_id
        self._interval, self._clock = interval, clock
        self.text, self.status = "", "Thinking…"
        self.card_id: str | None = None
        self._opening: Future[str] | None = None
        self.patches = 0
        self._last = 0.0
        self._dirty = False

    def open(self) -> None:
        """Start sending the first card (same uuid on a retried event, so Feishu shows it once)."""
        card = answer_card("", footer=self.status, template="grey")
        self._opening = _openers.submit(self._client.reply_card, self._message_id, card,
                                        uuid=f"{self._message_id}-0"[:50], chat_id=self._chat_id)
        self._last = self._clock()

    def _sent_card(self) -> str:
        """The first card's message id, once it is sent (its failure is raised here)."""
        if self.card_id is None:
            assert self._opening is not None, "open() first"
            self.card_id = self._opening.result(timeout=OPEN_TIMEOUT)
        return self.card_id

    def delta(self, text: str) -> None:
        """Append streamed text; PATCH when the interval has passed."""
        self.text += text
        self._dirty = True
        self._maybe_patch()

    def note(self, text: str) -> None:
        """Show a status line (e.g. which tool is being consulted)."""
        self.status = text
        self._dirty = True
        self._maybe_patch()

    def restart(self) -> None:
        """Drop the draft text (the model asked for tools instead of answering)."""
        self.text = ""

    def _maybe_patch(self) -> None:
        if self._dirty and self._clock() - self._last >= self._interval:
            self._patch(answer_card(self.text, footer=f"{self.status} (still writing)", template="grey"), final=False)

    def _patch(self, card: dict[str, Any], *, final: bool) -> None:
        """Send card as the stream's new content; a missed intermediate update is only logged.

        A final update that fails raises, so the caller can owe it to the outbox instead.
        """
        self._last = self._clock()
        self._dirty = False
        try:
            card_id = self._sent_card()
            self._client.update_card(card_id, card)
            self.patches += 1
        except Exception as exc:
            if final:
                raise
            logger.warning("assistant card update failed",
                           extra={"message_id": self.card_id, "final": final, "error": str(exc)})

    def finish(self, markdown: str) -> None:
        """The final answer."""
        self._patch(answer_card(markdown, footer="Answered by the assistant: check before acting."), final=True)

    def fail(self, reason: str) -> None:
        """Leave a readable card that says the answer was cut off (and keeps what had arrived)."""
        text = self.text.strip()
        body = f"{text}\n\n---\n**The answer was cut off:** {reason}" if text else f"**No answer:** {reason}"
        self._patch(answer_card(body, footer="Cut off. Ask again, or use /help for commands.", template="orange"), final=True)
