"""FEISHU_TRANSPORT: its default from PUBLIC_URL, its validation, and what `feishu connect` does with it."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from app.config import load_config
from app.errors import ConfigError

BASE = {"DATABASE_URL": "sqlite:///:memory:", "SECRET_KEY": "x"}


@pytest.mark.parametrize(("public_url", "expected"), [
    (None, "longconn"),                            # the default PUBLIC_URL is loopback
    ("http://127.0.0.1:8000", "longconn"),
    ("http://localhost:8000", "longconn"),
    ("http://[::1]:8000", "longconn"),
    ("http://127.9.9.9", "longconn"),
    ("https://openclaw.example.com", "webhook"),
    ("http://10.1.2.3:8000", "webhook"),            # reachable from Feishu's side only if you route it, but not loopback
])
def test_the_default_transport_follows_public_url(public_url: str | None, expected: str) -> None:
    environ = dict(BASE) | ({"PUBLIC_URL": public_url} if public_url else {})
    assert load_config(environ)["FEISHU_TRANSPORT"] == expected


def test_an_explicit_transport_wins_and_a_wrong_one_is_named() -> None:
    assert load_config(BASE | {"PUBLIC_URL": "https://x.example", "FEISHU_TRANSPORT": "longconn"})["FEISHU_TRANSPORT"] == "longconn"
    assert load_config(BASE | {"FEISHU_TRANSPORT": "webhook"})["FEISHU_TRANSPORT"] == "webhook"
    with pytest.raises(ConfigError, match=r"FEISHU_TRANSPORT: expected one of \('webhook', 'longconn'\), got 'websocket'"):
        load_config(BASE | {"FEISHU_TRANSPORT": "websocket"})


def _connect(app: Flask, *args: str) -> Any:
    with app.app_context():
        return app.test_cli_runner().invoke(args=["feishu", "connect", *args])


def test_connect_without_credentials_says_what_is_missing(make_app: Callable[..., Flask]) -> None:
    result = _connect(make_app(FEISHU_TRANSPORT="longconn"))
    assert result.exit_code == 1
    assert "FEISHU_APP_ID and FEISHU_APP_SECRET are needed" in result.output


def test_connect_in_webhook_mode_has_nothing_to_do(make_app: Callable[..., Flask]) -> None:
    result = _connect(make_app(FEISHU_TRANSPORT="webhook", FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret"))
    assert result.exit_code == 0
    assert "FEISHU_TRANSPORT is webhook" in result.output


def test_connect_exits_1_with_the_platform_reason_on_bad_credentials(
    make_app: Callable[..., Flask], feishu_server: Any, longconn: Any,
) -> None:
    app = make_app(FEISHU_TRANSPORT="longconn", FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="wrong",
                   FEISHU_BASE_URL=feishu_server.url)
    result = _connect(app)
    assert result.exit_code == 1
    assert "code 1000040344 invalid AppID or AppSecret" in result.output
