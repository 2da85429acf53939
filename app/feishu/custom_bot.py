"""Custom group bots (feishu-protocol.md 7): signed webhook posts, cards without callbacks.

A custom bot lives in one group, needs no app permissions and cannot receive
anything, so its cards carry links (to the admin page) instead of callback buttons.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import requests
from flask import Flask, current_app

from app.errors import ConfigError
from app.inventory.schema import CustomBot, Inventory

logger = logging.getLogger(__name__)

EXTENSION = "openclaw.custom_bot_secrets"
MAX_BODY = 20 * 1024  # bytes, the platform's limit


class CustomBotError(Exception):
    """The custom bot refused the post (code and msg from its answer) or could not be reached."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


def sign(timestamp: int, secret: str) -> str:
    """base64(HMAC-SHA256(key = "timestamp\\nsecret", message = empty)), as Feishu documents."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def init_app(app: Flask, inventory: Inventory | None, environ: Mapping[str, str], source: str) -> None:
    """Read every route's secret_env now, so a missing secret stops the start, naming file and key.

    With the inventory deferred (flask CLI commands read it on first use), the secrets are read
    with it, on the first post.
    """
    app.extensions[EXTENSION] = _secrets(inventory, environ, source) if inventory is not None else None
    app.extensions[EXTENSION + ".deferred"] = (dict(environ), source)


def _secrets(inventory: Inventory, environ: Mapping[str, str], source: str) -> dict[str, str]:
    secrets: dict[str, str] = {}
    for index, route in enumerate(inventory.alerting.routes):
        name = route.custom_bot.secret_env if route.custom_bot else None
        if name is None:
            continue
        value = (environ.get(name) or "").strip()
        if not value:
            raise ConfigError(f"{source}: alerting.routes.{index}.custom_bot.secret_env: "
                              f"environment variable {name} is not set")
        secrets[name] = value
    return secrets


def _secret(bot: CustomBot) -> str | None:
    if bot.secret_env is None:
        return None
    secrets = current_app.extensions[EXTENSION]
    if secrets is None:
        from app.inventory import get_inventory

        environ, source = current_app.extensions[EXTENSION + ".deferred"]
        secrets = current_app.extensions[EXTENSION] = _secrets(get_inventory(), environ, source)
    return str(secrets[bot.secret_env])


def post(bot: CustomBot, body: dict[str, Any], *, now: float | None = None, timeout: float = 10.0) -> None:
    """POST body to the bot, signed when it has a secret; CustomBotError unless the answer's code is 0."""
    body = dict(body)
    secret = _secret(bot)
    if secret is not None:
        timestamp = int(time.time() if now is None else now)
        body.update(timestamp=str(timestamp), sign=sign(timestamp, secret))
    data = json.dumps(body, ensure_ascii=False).encode()
    try:
        response = requests.post(bot.url, data=data, headers={"Content-Type": "application/json; charset=utf-8"},
                                 timeout=timeout)
    except requests.RequestException as exc:
        raise CustomBotError(f"custom bot unreachable: {type(exc).__name__}") from None
    try:
        answer = response.json()
    except ValueError:
        raise CustomBotError(f"custom bot answered HTTP {response.status_code} without JSON") from None
    code = answer.get("code", answer.get("StatusCode")) if isinstance(answer, dict) else None
    if code != 0:
        msg = answer.get("msg", "") if isinstance(answer, dict) else ""
        raise CustomBotError(f"custom bot refused the message: code {code} {msg}".strip(),
                             code=code if isinstance(code, int) else None)


def _is_callback_button(element: Any) -> bool:
    if not isinstance(element, dict) or element.get("tag") != "button":
        return False
    behaviours = element.get("behaviors") or []
    return any(isinstance(b, dict) and b.get("type") == "callback" for b in behaviours) or "value" in element


def _strip(node: Any) -> Any:
    """node without callback buttons (and without columns left empty by their removal)."""
    if isinstance(node, list):
        kept = [_strip(item) for item in node if not _is_callback_button(item)]
        return [item for item in kept if not (isinstance(item, dict) and item.get("tag") == "column"
                                             and not item.get("elements"))]
    if isinstance(node, dict):
        return {key: _strip(value) for key, value in node.items()}
    return node


def without_callbacks(card: dict[str, Any], link: str | None = None, label: str = "Open in admin") -> dict[str, Any]:
    """The card with callback buttons removed; a link button to `link` added when none remains."""
    result: dict[str, Any] = _strip(copy.deepcopy(card))
    text = json.dumps(result)
    if link and link not in text:
        result.setdefault("body", {}).setdefault("elements", []).append({
            "tag": "button", "text": {"tag": "plain_text", "content": label}, "type": "primary",
            "behaviors": [{"type": "open_url", "default_url": link}],
        })
    return result


def card_body(card: dict[str, Any], *, title: str, link: str | None) -> dict[str, Any]:
    """The post body: the card, or, when that would pass 20 KB, a text with the title and the link."""
    body: dict[str, Any] = {"msg_type": "interactive", "card": card}
    if len(json.dumps(body, ensure_ascii=False).encode()) + 200 <= MAX_BODY:  # room for timestamp and sign
        return body
    return {"msg_type": "text", "content": {"text": f"{title}\n{link}" if link else title}}
