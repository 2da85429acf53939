"""Alerts through a group's custom bot: signed as Feishu documents, link-only cards, fallback on app failure."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.alerts.models import NotifyState
from app.errors import ConfigError
from app.feishu import custom_bot
from app.inventory.schema import CustomBot
from tests.alerts.conftest import TOKEN, all_alerts, cards_to, generic_alert, post_generic
from tests.conftest import base_environ
from tests.fakes.feishu_platform import custom_bot_sign

DB_SECRET = "db-bot-secret-Ω"
OPS_SECRET = "ops-bot-secret"


def test_the_signature_matches_the_documented_vector() -> None:
    # feishu-protocol.md 10: custom-bot-sign-doc-inputs
    assert custom_bot.sign(1599360473, "demo") == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="
    assert custom_bot_sign("1599360473", "demo") == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="


def _inventory(tmp_path: Path, feishu_url: str, db_token: str, ops_token: str) -> Path:
    path = tmp_path / "openclaw.yaml"
    path.write_text(f"""
users:
  - {{open_id: ou_bob, name: Bob, role: operator}}
hosts:
  web-01: {{address: 127.0.0.1}}
alerting:
  routes:
    - match: {{service: postgres}}
      notify: [card]
      custom_bot: {{url: "{feishu_url}/open-apis/bot/v2/hook/{db_token}", secret_env: DB_BOT_SECRET}}
    - match: {{severity: warning}}
      chat: oc_ops
      notify: [card]
      custom_bot: {{url: "{feishu_url}/open-apis/bot/v2/hook/{ops_token}", secret_env: OPS_BOT_SECRET}}
    - {{match: {{}}, notify: [log]}}
""")
    return path


@pytest.fixture
def bots(feishu_server: Any) -> tuple[Any, Any]:
    return feishu_server.add_custom_bot(secret=DB_SECRET), feishu_server.add_custom_bot(secret=OPS_SECRET)


@pytest.fixture
def app(make_app: Callable[..., Flask], feishu_server: Any, bots: tuple[Any, Any], tmp_path: Path) -> Iterator[Flask]:
    feishu_server.add_chat("oc_ops", members=["ou_bob"])
    inventory = _inventory(tmp_path, feishu_server.url, bots[0].token, bots[1].token)
    application = make_app(OPENCLAW_CONFIG=str(inventory), ALERT_WEBHOOK_TOKEN=TOKEN, FEISHU_APP_ID="cli_test",
                           FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
                           DB_BOT_SECRET=DB_SECRET, OPS_BOT_SECRET=OPS_SECRET, PUBLIC_URL="https://ops.example.com")
    with application.app_context():
        yield application


def _buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("tag") == "button":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def test_a_route_without_a_chat_posts_a_signed_link_only_card(
    app: Flask, client: Any, drain: Any, feishu_server: Any, bots: tuple[Any, Any],
) -> None:
    db_bot, ops_bot = bots
    post_generic(client, generic_alert("replication_lag", service="postgres", severity="critical"))
    drain()
    [post] = db_bot.posts  # the fake checked timestamp and sign against Feishu's algorithm
    assert post["sign"] == custom_bot_sign(post["timestamp"], DB_SECRET)
    assert post["msg_type"] == "interactive" and isinstance(post["card"], dict)
    alert = all_alerts()[0]
    buttons = _buttons(post["card"])
    assert buttons, "the card has no link to act on"
    assert all(b["behaviors"][0]["type"] == "open_url" for b in buttons)  # nothing that would call back
    assert buttons[-1]["behaviors"][0]["default_url"] == f"https://ops.example.com/admin/alerts/{alert.id}"
    assert "replication_lag" in json.dumps(post["card"])
    assert alert.notify_state == NotifyState.SENT and alert.card_message_id is None
    assert ops_bot.posts == [] and cards_to(feishu_server) == []


def test_when_the_app_api_fails_the_routes_custom_bot_takes_the_alert(
    app: Flask, client: Any, drain: Any, feishu_server: Any, bots: tuple[Any, Any],
) -> None:
    _, ops_bot = bots
    feishu_server.fail_next("/open-apis/im/v1/messages", status=403, code=230002, msg="Bot is not in the chat",
                            times=10)
    post_generic(client, generic_alert("disk_used", severity="warning"))
    drain()
    assert cards_to(feishu_server) == []
    [post] = ops_bot.posts
    assert post["sign"] == custom_bot_sign(post["timestamp"], OPS_SECRET)
    assert all_alerts()[0].notify_state == NotifyState.SENT


def test_a_working_app_keeps_the_custom_bot_idle(
    app: Flask, client: Any, drain: Any, feishu_server: Any, bots: tuple[Any, Any],
) -> None:
    post_generic(client, generic_alert("disk_used", severity="warning"))
    drain()
    assert len(cards_to(feishu_server)) == 1 and bots[1].posts == []


def test_a_wrong_secret_is_refused_by_the_platform_with_its_code(
    app: Flask, feishu_server: Any, bots: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = CustomBot(url=f"{feishu_server.url}/open-apis/bot/v2/hook/{bots[0].token}", secret_env="DB_BOT_SECRET")
    monkeypatch.setitem(app.extensions[custom_bot.EXTENSION], "DB_BOT_SECRET", "not the secret")
    with pytest.raises(custom_bot.CustomBotError) as refused:
        custom_bot.post(bot, {"msg_type": "text", "content": {"text": "hi"}})
    assert refused.value.code == 19021
    monkeypatch.setitem(app.extensions[custom_bot.EXTENSION], "DB_BOT_SECRET", DB_SECRET)
    with pytest.raises(custom_bot.CustomBotError) as stale:  # more than an hour away from the platform's clock
        custom_bot.post(bot, {"msg_type": "text", "content": {"text": "hi"}}, now=1599360473)
    assert stale.value.code == 19021
    custom_bot.post(bot, {"msg_type": "text", "content": {"text": "hi"}})
    assert bots[0].posts[-1]["content"] == {"text": "hi"}


def test_a_missing_secret_variable_stops_the_start_naming_the_key(
    tmp_path: Path, feishu_server: Any, bots: tuple[Any, Any], pg_url: str,
) -> None:
    inventory = _inventory(tmp_path, feishu_server.url, bots[0].token, bots[1].token)
    with pytest.raises(ConfigError, match=r"alerting\.routes\.0\.custom_bot\.secret_env: environment variable "
                                          r"DB_BOT_SECRET is not set"):
        create_app(base_environ(pg_url, OPENCLAW_CONFIG=str(inventory), OPS_BOT_SECRET="x"))


def test_an_oversized_card_becomes_a_text_with_the_link() -> None:
    card = {"schema": "2.0", "body": {"elements": [{"tag": "markdown", "content": "x" * 30000}]}}
    body = custom_bot.card_body(card, title="[firing] Big", link="https://ops.example.com/admin/alerts/1")
    assert body == {"msg_type": "text", "content": {"text": "[firing] Big\nhttps://ops.example.com/admin/alerts/1"}}
