"""FeishuClient: the bot's server API calls (feishu-protocol.md section 4)."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal
from urllib.parse import quote

import redis
import requests

from app.feishu.bodies import dumps, fit_card_body, fit_text_bodies, new_uuid, piece_uuid
from app.feishu.errors import RATE_LIMIT_CODES, TOKEN_RETRY_CODES, FeishuRateLimited, FeishuUnavailable, error_for
from app.feishu.text import mask_pii
from app.feishu.throttle import (
    APP_RATE, APP_RESERVE, CHAT_RATE, CHAT_RESERVE, MESSAGE_RATE, Throttle, app_key, chat_key, message_key, user_key,
)
from app.feishu.token import TokenCache
from app.infra import lanes, metrics
from app.infra.http import DEFAULT_TIMEOUT, make_session

logger = logging.getLogger(__name__)

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES_PATH = "/open-apis/im/v1/messages"
CHATS_PATH = "/open-apis/im/v1/chats"
BuzzKind = Literal["app", "sms", "phone"]
_MAX_WAIT = 60.0  # longest x-ogw-ratelimit-reset we sleep through before giving up
_BATCH = 50  # user ids per create-chat / add-members call


def _backoff(attempt: int) -> float:
    return min(0.5 * 2.0**attempt, 2.0)


def _pause(attempt: int, delay: float, what: str, context: dict[str, Any]) -> int:
    """Log and sleep before retry number attempt + 1; returns the new attempt count."""
    method, _, rest = what.partition(" ")  # what is "METHOD /path: reason"
    metrics.FEISHU_API_CALLS.labels(endpoint=metrics.feishu_endpoint(method, rest.split(":", 1)[0]),
                                    outcome="retried").inc()
    logger.warning("feishu %s, retry %d in %.2fs", what, attempt + 1, delay, extra=context)
    time.sleep(delay)
    return attempt + 1


def _outcome(status: int, code: int | None) -> str:
    if status == 429 or code in RATE_LIMIT_CODES:
        return "rate_limited"
    return "ok" if code == 0 else "error"


def _observe(method: str, path: str, sent: float, outcome: str) -> None:
    """One HTTP attempt's latency and outcome; every failed attempt is also an error."""
    endpoint = metrics.feishu_endpoint(method, path)
    metrics.FEISHU_API_LATENCY.labels(endpoint=endpoint).observe(time.monotonic() - sent)
    metrics.FEISHU_API_CALLS.labels(endpoint=endpoint, outcome=outcome).inc()
    if outcome != "ok":
        metrics.count_error("feishu", outcome)


def _segment(value: str) -> str:
    return quote(value, safe="")


def _retry_after(resp: requests.Response, attempt: int) -> float:
    """Seconds to wait before retrying a rate-limited call."""
    try:
        return max(0.05, float(resp.headers["x-ogw-ratelimit-reset"]))
    except (KeyError, ValueError):
        return _backoff(attempt)


def _payload(resp: requests.Response) -> dict[str, Any] | None:
    try:
        payload = resp.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) and isinstance(payload.get("code"), int) else None


class FeishuClient:
    """Calls the Feishu server API as the bot: token cache, throttling, retries, error mapping."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        *,
        redis: redis.Redis | None = None,
        session: requests.Session | None = None,
        throttle: Throttle | None = None,
        max_retries: int = 3,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        token_margin: float = 600.0,
        token_min_ttl: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._app_secret = app_secret
        self._session = session or make_session()
        self._throttle = throttle or Throttle(redis)
        self.max_retries = max_retries
        self._timeout = timeout
        self._tokens = TokenCache(
            app_id, self._fetch_token, redis_client=redis, margin=token_margin, min_ttl=token_min_ttl
        )

    # -- transport ---------------------------------------------------------------------------

    def tenant_access_token(self) -> str:
        """The current tenant_access_token (cached; shared through Redis when configured)."""
        return self._tokens.get()

    def _fetch_token(self) -> tuple[str, float]:
        body = {"app_id": self.app_id, "app_secret": self._app_secret}
        payload = self._call("POST", TOKEN_PATH, body=body, auth=False, retry_transport=True)
        logger.info("fetched tenant_access_token", extra={"app_id": self.app_id, "expire": payload.get("expire")})
        return str(payload["tenant_access_token"]), float(payload["expire"])

    def _send(
        self, method: str, path: str, params: dict[str, str] | None, body: dict[str, Any] | None, token: str | None,
        files: dict[str, Any] | None = None,
    ) -> requests.Response:
        headers = {} if files else {"Content-Type": "application/json; charset=utf-8"}  # multipart sets its own
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = dumps(body).encode("utf-8") if body is not None else None
        return self._session.request(
            method, self.base_url + path, params=params, data=data, files=files, headers=headers,
            timeout=self._timeout,
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        auth: bool = True,
        retry_transport: bool = False,
        throttle: Iterable[tuple[str, int]] = (),
        files: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Make one logical call and return the whole response envelope (code 0).

        Rate limits are waited out up to max_retries times. Transport errors are retried only
        when `retry_transport` says the call is idempotent (GET, PATCH, or a POST with a uuid).
        A rejected token is dropped and the call retried once with a fresh one.
        """
        attempt = 0
        refreshed = False
        while True:
            token = None
            if auth:
                token = self._tokens.get()  # first, so a slow refresh cannot eat into the slot
                for key, rate in throttle:
                    self._throttle.acquire(key, lanes.share(rate, CHAT_RESERVE))
                self._throttle.acquire(app_key(self.app_id), lanes.share(APP_RATE, APP_RESERVE))
            sent = time.monotonic()
            try:
                resp = self._send(method, path, params, body, token, files)
            except requests.RequestException as exc:
                _observe(method, path, sent, "unavailable")
                if retry_transport and attempt < self.max_retries:
                    attempt = _pause(attempt, _backoff(attempt), f"{method} {path}: {type(exc).__name__}", {})
                    continue
                logger.error("feishu %s %s failed: %s", method, path, type(exc).__name__, extra={"path": path})
                raise FeishuUnavailable(-1, type(exc).__name__) from exc

            log_id = resp.headers.get("x-tt-logid")
            payload = _payload(resp)
            code = payload["code"] if payload is not None else None
            msg = str(payload.get("msg", "")) if payload is not None else ""
            context = {"path": path, "code": code, "http_status": resp.status_code, "log_id": log_id}
            _observe(method, path, sent, _outcome(resp.status_code, code))

            if resp.status_code == 429 or code in RATE_LIMIT_CODES:
                wait = _retry_after(resp, attempt)
                if attempt < self.max_retries and wait <= _MAX_WAIT:
                    attempt = _pause(attempt, wait, f"{method} {path}: rate limited", context)
                    continue
                logger.error("feishu %s %s rate limited, giving up", method, path, extra=context)
                raise FeishuRateLimited(code or 99991400, msg, resp.status_code, log_id, retry_after=wait)

            if payload is None or code is None:
                if resp.status_code >= 500 and retry_transport and attempt < self.max_retries:
                    attempt = _pause(attempt, _backoff(attempt), f"{method} {path}: HTTP {resp.status_code}", context)
                    continue
                logger.error("feishu %s %s: no JSON envelope", method, path, extra=context)
                reason = f"HTTP {resp.status_code} without a JSON envelope"
                raise FeishuUnavailable(-1, reason, resp.status_code, log_id)

            if auth and token is not None and code in TOKEN_RETRY_CODES and not refreshed:
                refreshed = True
                logger.warning("feishu %s %s: token rejected, refreshing once", method, path, extra=context)
                self._tokens.invalidate(token)
                continue

            if code != 0:
                logger.error("feishu %s %s failed: code=%s %s", method, path, code, msg, extra=context)
                raise error_for(code, msg, resp.status_code, log_id)
            return payload

    # -- messages ----------------------------------------------------------------------------

    def bot_info(self) -> dict[str, Any]:
        """The bot's own profile (`open_id`, `app_name`, ...); `bot` sits at the top level."""
        payload = self._call("GET", "/open-apis/bot/v3/info")
        bot: dict[str, Any] = payload["bot"]
        return bot

    def _target_key(self, receive_id: str, receive_id_type: str) -> str:
        return chat_key(receive_id) if receive_id_type == "chat_id" else user_key(receive_id)

    def _post_message(self, body: dict[str, Any], receive_id_type: str) -> str:
        """POST a prepared send body; retries reuse its uuid so Feishu delivers it once."""
        payload = self._call(
            "POST",
            MESSAGES_PATH,
            params={"receive_id_type": receive_id_type},
            body=body,
            retry_transport=True,
            throttle=[(self._target_key(body["receive_id"], receive_id_type), CHAT_RATE)],
        )
        return str(payload["data"]["message_id"])

    def _post_reply(self, message_id: str, body: dict[str, Any], chat_id: str | None) -> str:
        """POST a prepared reply body (same uuid on every retry)."""
        payload = self._call(
            "POST",
            f"{MESSAGES_PATH}/{_segment(message_id)}/reply",
            body=body,
            retry_transport=True,
            throttle=[(chat_key(chat_id), CHAT_RATE)] if chat_id else [],
        )
        return str(payload["data"]["message_id"])

    def send(
        self,
        receive_id: str,
        msg_type: str,
        content: dict[str, Any],
        *,
        receive_id_type: str = "chat_id",
        uuid: str | None = None,
    ) -> str:
        """Send one message as is (content serialised to a JSON string) and return its message_id."""
        body = {"receive_id": receive_id, "msg_type": msg_type, "content": dumps(content), "uuid": uuid or new_uuid()}
        return self._post_message(body, receive_id_type)

    def send_text(
        self, receive_id: str, text: str, *, receive_id_type: str = "chat_id", uuid: str | None = None
    ) -> list[str]:
        """Send text with PII masked, split into several messages if too long; their ids in order."""
        base = uuid or new_uuid()

        def build(piece: str, index: int) -> dict[str, Any]:
            content = dumps({"text": piece})
            return {"receive_id": receive_id, "msg_type": "text", "content": content, "uuid": piece_uuid(base, index)}

        return [self._post_message(body, receive_id_type) for body in fit_text_bodies(mask_pii(text), build)]

    def send_card(
        self, receive_id: str, card: dict[str, Any], *, receive_id_type: str = "chat_id", uuid: str | None = None
    ) -> str:
        """Send a card with PII masked and oversized text truncated; its message_id."""
        uuid = uuid or new_uuid()
        body = fit_card_body(
            card,
            lambda c: {"receive_id": receive_id, "msg_type": "interactive", "content": dumps(c), "uuid": uuid},
        )
        return self._post_message(body, receive_id_type)

    def reply(
        self,
        message_id: str,
        msg_type: str,
        content: dict[str, Any],
        *,
        uuid: str | None = None,
        in_thread: bool = False,
        chat_id: str | None = None,
    ) -> str:
        """Reply to a message as is; pass `chat_id` when known so the per-chat limit applies."""
        body = {
            "msg_type": msg_type,
            "content": dumps(content),
            "reply_in_thread": in_thread,
            "uuid": uuid or new_uuid(),
        }
        return self._post_reply(message_id, body, chat_id)

    def reply_text(
        self,
        message_id: str,
        text: str,
        *,
        uuid: str | None = None,
        in_thread: bool = False,
        chat_id: str | None = None,
    ) -> list[str]:
        """Reply with text (PII masked, split if too long); the new message ids in order."""
        base = uuid or new_uuid()

        def build(piece: str, index: int) -> dict[str, Any]:
            content = dumps({"text": piece})
            key = piece_uuid(base, index)
            return {"msg_type": "text", "content": content, "reply_in_thread": in_thread, "uuid": key}

        return [self._post_reply(message_id, body, chat_id) for body in fit_text_bodies(mask_pii(text), build)]

    def reply_card(
        self,
        message_id: str,
        card: dict[str, Any],
        *,
        uuid: str | None = None,
        in_thread: bool = False,
        chat_id: str | None = None,
    ) -> str:
        """Reply with a card (PII masked, oversized text truncated); the new message id."""
        uuid = uuid or new_uuid()
        body = fit_card_body(
            card,
            lambda c: {"msg_type": "interactive", "content": dumps(c), "reply_in_thread": in_thread, "uuid": uuid},
        )
        return self._post_reply(message_id, body, chat_id)

    def upload_image(self, image: bytes, *, filename: str = "image.png", image_type: str = "message") -> str:
        """Upload a PNG or JPEG (at most 10 MB) for cards and messages; its image_key.

        Uploading the same bytes twice only costs a second key, so transport errors are retried.
        """
        files = {"image_type": (None, image_type), "image": (filename, image, "image/png")}
        payload = self._call("POST", "/open-apis/im/v1/images", files=files, retry_transport=True)
        return str(payload["data"]["image_key"])

    def update_card(self, message_id: str, card: dict[str, Any]) -> None:
        """Replace a card the bot sent (needs update_multi); at most 5 updates/s per message."""
        body = fit_card_body(card, lambda c: {"content": dumps(c)})
        self._call(
            "PATCH",
            f"{MESSAGES_PATH}/{_segment(message_id)}",
            body=body,
            retry_transport=True,
            throttle=[(message_key(message_id), MESSAGE_RATE)],
        )

    def delayed_update_card(self, token: str, card: dict[str, Any]) -> None:
        """Update a clicked card with the callback's `token` (valid 30 min, two uses: no retries)."""
        body = fit_card_body(card, lambda c: {"token": token, "card": c})
        self._call("POST", "/open-apis/interactive/v1/card/update", body=body)

    # -- buzz, chats, users ------------------------------------------------------------------

    def urgent(self, message_id: str, open_ids: Sequence[str], kind: BuzzKind = "app") -> list[str]:
        """Buzz users about a message the bot sent; returns the ids Feishu found invalid."""
        if kind not in ("app", "sms", "phone"):
            raise ValueError(f"unknown buzz kind {kind!r}")
        if not 1 <= len(open_ids) <= 200:
            raise ValueError("buzz needs between 1 and 200 open_ids")
        payload = self._call(
            "PATCH",
            f"{MESSAGES_PATH}/{_segment(message_id)}/urgent_{kind}",
            params={"user_id_type": "open_id"},
            body={"user_id_list": list(open_ids)},
        )
        return list((payload.get("data") or {}).get("invalid_user_id_list") or [])

    def create_chat(
        self, name: str, *, user_open_ids: Sequence[str] = (), description: str = "", uuid: str | None = None
    ) -> str:
        """Create a private group owned by the bot with these users; its chat_id."""
        ids = list(user_open_ids)
        payload = self._call(
            "POST",
            CHATS_PATH,
            params={"user_id_type": "open_id", "set_bot_manager": "false", "uuid": uuid or new_uuid()},
            body={
                "name": name,
                "description": description,
                "user_id_list": ids[:_BATCH],
                "chat_mode": "group",
                "chat_type": "private",
            },
            retry_transport=True,
        )
        chat_id = str(payload["data"]["chat_id"])
        if len(ids) > _BATCH:
            self.add_members(chat_id, ids[_BATCH:])
        return chat_id

    def add_members(self, chat_id: str, open_ids: Sequence[str]) -> dict[str, list[str]]:
        """Add users (50 per call, valid ones even if others fail); the ids that were not added."""
        fields = ("invalid_id_list", "not_existed_id_list", "pending_approval_id_list")
        result: dict[str, list[str]] = {field: [] for field in fields}
        ids = list(open_ids)
        for start in range(0, len(ids), _BATCH):
            payload = self._call(
                "POST",
                f"{CHATS_PATH}/{_segment(chat_id)}/members",
                params={"member_id_type": "open_id", "succeed_type": "1"},
                body={"id_list": ids[start : start + _BATCH]},
                retry_transport=True,
            )
            data = payload.get("data") or {}
            for field, values in result.items():
                values.extend(data.get(field) or [])
        return result

    def get_user(self, open_id: str) -> dict[str, Any]:
        """A user's profile (fields limited by the app's contact scopes)."""
        payload = self._call(
            "GET",
            f"/open-apis/contact/v3/users/{_segment(open_id)}",
            params={"user_id_type": "open_id", "department_id_type": "open_department_id"},
        )
        user: dict[str, Any] = payload["data"]["user"]
        return user
