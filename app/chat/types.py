"""Platform-neutral values passed between the Feishu layer, the router and commands."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.inventory.schema import Role

__all__ = ["Role", "IncomingMessage", "CardAction", "CommandContext", "Reply", "CardResponse"]


@dataclass(frozen=True)
class IncomingMessage:
    """A message a person sent the bot, after decryption, parsing and mention stripping."""

    event_id: str
    message_id: str
    chat_id: str
    chat_type: str  # "p2p" or "group"
    open_id: str
    text: str
    mentioned_bot: bool
    source: str = "feishu"  # or "console"
    # Console only: the signed-in web account that typed the text (open_id above is whom it speaks as).
    sent_by_user: int | None = None

    @property
    def addressed_to_bot(self) -> bool:
        """In a group the bot answers only when mentioned; in a direct chat always."""
        return self.chat_type != "group" or self.mentioned_bot


@dataclass(frozen=True)
class CardAction:
    """A click on one of our cards (card.action.trigger or the legacy callback)."""

    event_id: str
    open_id: str
    value: dict[str, Any]
    message_id: str | None
    chat_id: str | None
    update_token: str | None = None
    form_value: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandContext:
    """Who asked, where, and with which role."""

    open_id: str
    role: Role
    chat_id: str
    chat_type: str = "p2p"
    message_id: str | None = None
    event_id: str | None = None
    source: str = "feishu"


@dataclass(frozen=True)
class Reply:
    """What the bot says back: plain text, or a card (JSON 2.0 object)."""

    text: str | None = None
    card: dict[str, Any] | None = None
    delivered: bool = False  # already sent by its producer (the assistant streams its own card)
    update_of: str | None = None  # the producer's card is at this message id: deliver `card` as its update
    on_sent: dict[str, Any] | None = None  # what to remember once delivered, e.g. {"execution_card": 12}

    @classmethod
    def of_text(cls, text: str) -> Reply:
        return cls(text=text)

    @classmethod
    def of_card(cls, card: dict[str, Any]) -> Reply:
        return cls(card=card)


@dataclass(frozen=True)
class CardResponse:
    """The synchronous answer to a card click: a toast and/or a replacement card."""

    toast: str | None = None
    toast_type: str = "info"  # info, success, error, warning
    card: dict[str, Any] | None = None

    def to_callback_body(self) -> dict[str, Any]:
        """The body for card.action.trigger (feishu-protocol.md 3.3)."""
        body: dict[str, Any] = {}
        if self.toast:
            body["toast"] = {"type": self.toast_type, "content": self.toast}
        if self.card is not None:
            body["card"] = {"type": "raw", "data": self.card}
        return body

    def to_legacy_body(self) -> dict[str, Any]:
        """The body for the legacy callback: the card's fields at the top level."""
        body: dict[str, Any] = dict(self.card or {})
        if self.toast:
            body["toast"] = {"type": self.toast_type, "content": self.toast}
        return body
