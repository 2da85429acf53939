"""The assistant hook: text that is not a command. The AI issue fills this in."""
from __future__ import annotations

from app.chat.types import CommandContext, Reply

NOT_CONFIGURED = "The assistant is not configured yet. Type /help to see the commands you can run."


def answer(ctx: CommandContext, text: str) -> Reply:
    """Answer free text from ctx's sender."""
    return Reply.of_text(NOT_CONFIGURED)
