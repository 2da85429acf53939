"""Endpoint discovery: POST {FEISHU_BASE_URL}/callback/ws/endpoint (feishu-protocol.md 6.2 step 1)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import requests

PATH = "/callback/ws/endpoint"

SYSTEM_BUSY = 1
INTERNAL_ERROR = 1000040343
NO_CREDENTIAL = 1000040344
EXCEED_CONN_LIMIT = 1000040350
AUTH_FAILED = 514
FORBIDDEN = 403


class ConnectError(Exception):
    """Could not get or open a connection; fatal means retrying cannot help (bad credentials, limit hit)."""

    def __init__(self, reason: str, *, fatal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal


@dataclass(frozen=True)
class ClientConfig:
    """Timings the platform hands out; defaults are the SDK's."""

    reconnect_count: int = -1
    reconnect_interval: int = 120
    reconnect_nonce: int = 30
    ping_interval: int = 120

    @classmethod
    def from_json(cls, data: object, base: ClientConfig | None = None) -> ClientConfig:
        """Merge the platform's {"ReconnectCount", ...}; missing or bad values keep base's."""
        base = base or cls()
        if not isinstance(data, dict):
            return base

        def pick(key: str, current: int, least: int) -> int:
            value = data.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) and value >= least else current

        return cls(
            reconnect_count=pick("ReconnectCount", base.reconnect_count, -1),
            reconnect_interval=pick("ReconnectInterval", base.reconnect_interval, 1),
            reconnect_nonce=pick("ReconnectNonce", base.reconnect_nonce, 0),
            ping_interval=pick("PingInterval", base.ping_interval, 1),
        )


@dataclass(frozen=True)
class Endpoint:
    url: str
    device_id: str
    service_id: int
    config: ClientConfig


def discover(base_url: str, app_id: str, app_secret: str, *, timeout: float = 10.0,
             config: ClientConfig | None = None) -> Endpoint:
    """Ask the platform for a WebSocket URL; ConnectError (fatal for credential errors) otherwise."""
    try:
        response = requests.post(
            base_url.rstrip("/") + PATH, json={"AppID": app_id, "AppSecret": app_secret},
            headers={"locale": "zh"}, timeout=timeout,
        )
    except requests.RequestException as exc:
        raise ConnectError(f"endpoint discovery failed: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise ConnectError(f"endpoint discovery answered HTTP {response.status_code}",
                           fatal=response.status_code == FORBIDDEN)
    try:
        body = response.json()
    except ValueError:
        raise ConnectError("endpoint discovery answered something that is not JSON") from None
    code = body.get("code") if isinstance(body, dict) else None
    if code != 0:
        msg = str(body.get("msg", "")) if isinstance(body, dict) else ""
        retryable = code in (SYSTEM_BUSY, INTERNAL_ERROR)
        raise ConnectError(f"endpoint discovery refused: code {code} {msg}".strip(), fatal=not retryable)
    data = body.get("data") or {}
    url = data.get("URL") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
        raise ConnectError("endpoint discovery answered without a ws:// or wss:// URL")
    query = parse_qs(urlparse(url).query)
    try:
        device_id = query["device_id"][0]
        service_id = int(query["service_id"][0])
    except (KeyError, IndexError, ValueError):
        raise ConnectError("endpoint URL lacks device_id or a numeric service_id") from None
    return Endpoint(url, device_id, service_id, ClientConfig.from_json(data.get("ClientConfig"), config))
