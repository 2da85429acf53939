"""Bot menu clicks (application.bot.menu_v6): the inventory maps each event_key to a slash command.

The command runs as the clicking person through the normal router, with the same
role check, argument schema and audit as typed text. The menu lives in the
person's direct chat with the bot but the event names no chat and no message, so
the replies go to the person by open_id.
"""
from __future__ import annotations

import logging
from typing import Any

from app.chat.types import IncomingMessage
from app.inventory import get_inventory

logger = logging.getLogger(__name__)

EVENT_TYPE = "application.bot.menu_v6"
SOURCE = "menu"


def to_incoming_message(payload: dict[str, Any], *, event_id: str) -> IncomingMessage | None:
    """The configured command as if the clicking person had typed it; None for an unknown key."""
    event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    key = event.get("event_key")
    operator = (event.get("operator") or {}).get("operator_id") or {}
    open_id = operator.get("open_id") if isinstance(operator, dict) else None
    if not isinstance(key, str) or not isinstance(open_id, str) or not open_id:
        logger.warning("bot menu event without event_key or operator open_id", extra={"event_id": event_id})
        return None
    command = get_inventory().feishu.menu.get(key)
    if command is None:
        logger.warning("bot menu key not in the inventory (feishu.menu)", extra={"event_id": event_id, "event_key": key})
        return None
    # A click has no message: its event id keys the command receipt and the reply's uuid instead.
    return IncomingMessage(
        event_id=event_id, message_id=event_id, chat_id="", chat_type="p2p", open_id=open_id, text=command,
        mentioned_bot=True, source=SOURCE,
    )
