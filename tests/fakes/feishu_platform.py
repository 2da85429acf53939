"""More of the fake Feishu: long-connection discovery, custom group bots, the image API.

Mixed into FakeFeishuServer; each api_* answers like the platform (feishu-protocol.md 6, 7, 4.10).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.feishu_state import ApiError, Reply

CUSTOM_BOT_MAX_BODY = 20 * 1024
IMAGE_MAX_BYTES = 10 * 1024 * 1024


def custom_bot_sign(timestamp: str, secret: str) -> str:
    """Feishu's documented algorithm: HMAC-SHA256 keyed by "timestamp\\nsecret" over an empty message."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


@dataclass
class CustomBot:
    """A group's custom bot: its webhook token, optional signing secret, and what it received."""

    token: str
    secret: str | None
    posts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class UploadedImage:
    image_key: str
    data: bytes
    width: int
    height: int
    image_type: str


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None if data is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class PlatformExtras:
    """State and handlers for the parts of the platform beyond the message API."""

    lock: threading.RLock
    app_id: str
    app_secret: str

    def init_extras(self) -> None:
        self.longconn: Any = None  # a FakeLongConnServer, see attach_longconn
        self.custom_bots: dict[str, CustomBot] = {}
        self.images: dict[str, UploadedImage] = {}
        self.endpoint_refusals: list[dict[str, Any]] = []

    # -- long connection -----------------------------------------------------------------------

    def attach_longconn(self, server: Any) -> None:
        """Serve POST /callback/ws/endpoint with URLs of this FakeLongConnServer."""
        self.longconn = server

    def refuse_next_discovery(self, code: int, msg: str = "refused") -> None:
        with self.lock:
            self.endpoint_refusals.append({"code": code, "msg": msg})

    def api_ws_endpoint(self, body: Any) -> Reply:
        if not isinstance(body, dict) or not body.get("AppID") or not body.get("AppSecret"):
            return Reply(200, {"code": 1000040344, "msg": "AppID and AppSecret are required"})
        if body["AppID"] != self.app_id or body["AppSecret"] != self.app_secret:
            return Reply(200, {"code": 1000040344, "msg": "invalid AppID or AppSecret"})
        with self.lock:
            refusal = self.endpoint_refusals.pop(0) if self.endpoint_refusals else None
        if refusal:
            return Reply(200, refusal)
        if self.longconn is None:
            return Reply(200, {"code": 1, "msg": "system busy"})
        return Reply(200, {"code": 0, "msg": "ok", "data": self.longconn.issue_endpoint()})

    # -- custom group bots -----------------------------------------------------------------------

    def add_custom_bot(self, secret: str | None = None) -> CustomBot:
        """A new custom bot; its webhook is {url}/open-apis/bot/v2/hook/{bot.token}."""
        bot = CustomBot(token=str(uuid.uuid4()), secret=secret)
        with self.lock:
            self.custom_bots[bot.token] = bot
        return bot

    def api_custom_bot(self, body: Any, size: int, token: str, now: float | None = None) -> Reply:
        bot = self.custom_bots.get(token)
        if bot is None:
            return Reply(200, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"})
        if not isinstance(body, dict) or "msg_type" not in body:
            return Reply(400, {"code": 9499, "msg": "Bad Request"})
        if size > CUSTOM_BOT_MAX_BODY:
            return Reply(200, {"code": 9499, "msg": "request body exceeds 20 KB"})
        if bot.secret is not None:
            timestamp, sign = body.get("timestamp"), body.get("sign")
            now = time.time() if now is None else now
            fresh = isinstance(timestamp, str) and timestamp.isdigit() and abs(now - int(timestamp)) <= 3600
            if not (fresh and isinstance(sign, str) and hmac.compare_digest(sign, custom_bot_sign(timestamp, bot.secret))):
                return Reply(200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"})
        kind = body["msg_type"]
        if kind == "interactive" and not isinstance(body.get("card"), dict):
            return Reply(200, {"code": 9499, "msg": "card must be an object"})
        if kind != "interactive" and not isinstance(body.get("content"), dict):
            return Reply(200, {"code": 9499, "msg": "content must be an object"})
        with self.lock:
            bot.posts.append(body)
        return Reply(200, {"code": 0, "msg": "success", "data": {}, "StatusCode": 0, "StatusMessage": "success"})

    # -- images --------------------------------------------------------------------------------------

    def api_images(self, form: dict[str, str], files: dict[str, bytes]) -> Reply:
        image_type = form.get("image_type")
        if image_type not in ("message", "avatar"):
            raise ApiError(234001, "Invalid request param: image_type")
        data = files.get("image")
        if not data:
            raise ApiError(234001, "Invalid request param: image")
        if len(data) > IMAGE_MAX_BYTES:
            raise ApiError(234006, "The image size exceeds limit")
        size = png_size(data)
        if size is None or 0 in size:
            raise ApiError(234011, "Can't recognize image format")
        key = f"img_v3_{uuid.uuid4().hex[:24]}"
        with self.lock:
            self.images[key] = UploadedImage(key, data, size[0], size[1], image_type)
        return Reply(200, {"code": 0, "msg": "success", "data": {"image_key": key}})
