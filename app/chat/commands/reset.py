"""/reset: forget the assistant conversation with this sender in this chat."""
from __future__ import annotations

from app.ai.memory import get_memory, key_for
from app.chat.args import Args
from app.chat.registry import command
from app.chat.types import CommandContext, Reply


@command("reset", usage="/reset")
def reset(ctx: CommandContext, args: Args) -> Reply:
    """Start a fresh conversation with the assistant."""
    get_memory().clear(key_for(chat_id=ctx.chat_id, chat_type=ctx.chat_type, open_id=ctx.open_id))
    return Reply.of_text("Done: the assistant has forgotten this conversation.")
