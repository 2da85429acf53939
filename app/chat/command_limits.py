"""Per-user limits on slash commands and card clicks (COMMAND_RATE_* settings).

Commands and clicks share one per-minute allowance per person, counted in Redis so every
web and worker process sees the same count. The limit depends on the sender's role
(COMMAND_RATE_PER_ROLE overrides COMMAND_RATE_PER_MINUTE); admins are exempt unless
COMMAND_RATE_EXEMPT_ADMINS is false. If Redis cannot be reached the command is let
through and the failure logged: a limiter outage must not lock everyone out of the bot.
"""
from __future__ import annotations

import logging
from typing import Any

import redis as redis_lib
from flask import current_app

from app.chat.types import CommandContext, Role
from app.infra.ratelimit import Hit, PerMinuteCounter

__all__ = ["Hit", "check", "limit_for", "refusal_text"]
from app.infra.redis import get_redis

logger = logging.getLogger(__name__)

EXTENSION = "openclaw.chat.command_limits"
PREFIX = "openclaw:cmd:rate:"


def limit_for(role: Role, config: dict[str, Any]) -> int:
    """The per-minute limit for role; 0 = not limited."""
    if role is Role.ADMIN and config["COMMAND_RATE_EXEMPT_ADMINS"]:
        return 0
    per_role: dict[str, int] = config["COMMAND_RATE_PER_ROLE"]
    return per_role.get(role.value, config["COMMAND_RATE_PER_MINUTE"])


def _counter() -> PerMinuteCounter:
    counter: PerMinuteCounter | None = current_app.extensions.get(EXTENSION)
    if counter is None:
        counter = PerMinuteCounter(get_redis(), PREFIX)
        current_app.extensions[EXTENSION] = counter
    return counter


def check(ctx: CommandContext) -> Hit | None:
    """Count one command or click by ctx.open_id; the Hit when it is over the limit, else None."""
    limit = limit_for(ctx.role, current_app.config)
    if limit <= 0:
        return None
    try:
        hit = _counter().hit(ctx.open_id, limit)
    except redis_lib.RedisError as exc:
        logger.warning("command limit not checked for %s: Redis unavailable (%s)", ctx.open_id, exc)
        return None
    return None if hit.allowed else hit


def refusal_text(hit: Hit) -> str:
    """What the person is told when over the limit."""
    return f"Too many commands: the limit is {hit.limit} a minute; try again in {hit.retry_after} s."
