"""The app's FeishuClient (one per process) and the bot's own open_id."""
from __future__ import annotations

import logging
import threading

from flask import Flask, current_app

from app.errors import BotError

logger = logging.getLogger(__name__)

EXTENSION = "openclaw.feishu"
_BOT_ID_KEY = "openclaw:feishu:bot_open_id:{app_id}"


class FeishuNotConfigured(BotError):
    """FEISHU_APP_ID / FEISHU_APP_SECRET are not set, so nothing can be sent to Feishu."""


class _Holder:
    def __init__(self) -> None:
        self.client = None
        self.bot_open_id: str | None = None
        self.lock = threading.Lock()


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = _Holder()


def get_client():  # type: ignore[no-untyped-def]
    """The process's FeishuClient, created on first use (token cache shared through Redis)."""
    from app.feishu.client import FeishuClient
    from app.infra.redis import get_redis

    holder: _Holder = current_app.extensions[EXTENSION]
    config = current_app.config
    if not (config.get("FEISHU_APP_ID") and config.get("FEISHU_APP_SECRET")):
        raise FeishuNotConfigured("Feishu app credentials are not configured")
    with holder.lock:
        if holder.client is None:
            holder.client = FeishuClient(
                config["FEISHU_BASE_URL"], config["FEISHU_APP_ID"], config["FEISHU_APP_SECRET"], redis=get_redis()
            )
        return holder.client


def bot_open_id() -> str | None:
    """FEISHU_BOT_OPEN_ID, else asked once from /open-apis/bot/v3/info and cached (Redis when present)."""
    config = current_app.config
    if config.get("FEISHU_BOT_OPEN_ID"):
        return str(config["FEISHU_BOT_OPEN_ID"])
    holder: _Holder = current_app.extensions[EXTENSION]
    if holder.bot_open_id:
        return holder.bot_open_id
    if not config.get("FEISHU_APP_ID"):
        return None
    from app.infra.redis import get_redis

    redis = get_redis()
    key = _BOT_ID_KEY.format(app_id=config["FEISHU_APP_ID"])
    cached = redis.get(key) if redis is not None else None
    if cached:
        holder.bot_open_id = cached.decode()
        return holder.bot_open_id
    info = get_client().bot_info()
    holder.bot_open_id = str(info.get("open_id") or "") or None
    if holder.bot_open_id and redis is not None:
        redis.set(key, holder.bot_open_id, ex=86400)
    return holder.bot_open_id
