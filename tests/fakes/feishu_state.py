"""What the fake Feishu remembers (tokens, messages, chats, users) and its API handlers."""
from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

TEXT_LIMIT = 150 * 1024
CARD_LIMIT = 30 * 1024
TENANT_KEY = "736588c9260f175d"
RECEIVE_ID_TYPES = frozenset({"open_id", "union_id", "user_id", "email", "chat_id"})
AUTH_ERRORS = {
    "missing": (99991661, "Missing access token for authorization. Please make a request with token attached."),
    "malformed": (99991671, "Invalid access token: the token must start with t- or u-."),
    "invalid": (99991663, "Invalid access token for authorization. Please make a request with token attached."),
}

F = TypeVar("F", bound=Callable[..., Any])


class ApiError(Exception):
    """A failure answer: non-zero `code`, usually with HTTP 400."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass
class Reply:
    """An answer the WSGI layer renders: JSON envelope (dict) or plain text (str)."""

    status: int
    payload: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SentMessage:
    """A message the bot sent or replied, with its content decoded from the JSON string."""

    message_id: str
    chat_id: str | None
    receive_id: str | None
    receive_id_type: str | None
    msg_type: str
    content: Any
    raw_content: str
    uuid: str | None
    reply_to: str | None = None
    in_thread: bool = False
    created: float = field(default_factory=time.time)
    updates: list[Any] = field(default_factory=list)  # decoded cards from later PATCHes

    @property
    def text(self) -> str | None:
        """The text of a text message, else None."""
        return self.content.get("text") if self.msg_type == "text" else None


@dataclass
class FakeChat:
    """A group chat the bot is in."""

    chat_id: str
    name: str = ""
    description: str = ""
    members: set[str] = field(default_factory=set)


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic()
    revoked: bool = False


def _ok(data: dict[str, Any] | None = None, msg: str = "success") -> Reply:
    return Reply(200, {"code": 0, "msg": msg, "data": data if data is not None else {}})


def _locked(method: F) -> F:
    @functools.wraps(method)
    def wrapper(self: FeishuState, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _require_str(body: Any, *names: str) -> None:
    if not isinstance(body, dict):
        raise ApiError(230001, "invalid param: the body must be a JSON object")
    for name in names:
        if not isinstance(body.get(name), str) or not body[name]:
            raise ApiError(230001, f"invalid param: {name} must be a non-empty string")


def _decode_content(body: dict[str, Any], size: int, msg_type: str) -> Any:
    """The decoded `content` string, after the size and JSON checks Feishu makes."""
    limit = CARD_LIMIT if msg_type in ("interactive", "post") else TEXT_LIMIT
    if size > limit:
        raise ApiError(230025, f"The message you sent is too long: body {size} bytes > {limit}.")
    try:
        content = json.loads(body["content"])
    except ValueError:
        content = None
    if not isinstance(content, dict):
        if msg_type == "interactive":
            raise ApiError(230099, "Failed to create card content, ext=ErrCode: 200621; ErrMsg: parse card json err")
        raise ApiError(230001, "invalid message content: content must be a JSON object serialised to a string")
    if msg_type == "text" and not isinstance(content.get("text"), str):
        raise ApiError(230001, "invalid message content: text content needs a 'text' string")
    return content


def _check_uuid(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 50:
        raise ApiError(230001, "invalid param: uuid must be at most 50 characters")
    return value


class FeishuState:
    """In-memory Feishu tenant: one app, its tokens, the bot's messages, chats and users."""

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        token_lifetime: float = 7200,
        token_reuse_window: float = 1800,
        bot_open_id: str = "ou_bot_open_id_example",
        app_name: str = "OpenClaw",
    ) -> None:
        self.lock = threading.RLock()
        self.app_id, self.app_secret = app_id, app_secret
        self.bot_open_id, self.app_name = bot_open_id, app_name
        self._config = {"token_lifetime": token_lifetime, "token_reuse_window": token_reuse_window}
        self.reset_state()

    def reset_state(self) -> None:
        """Back to a fresh tenant with the constructor's settings."""
        with self.lock:
            self.token_lifetime = self._config["token_lifetime"]
            self.token_reuse_window = self._config["token_reuse_window"]
            self.token_requests = 0
            self._tokens: list[_Token] = []
            self._messages: list[SentMessage] = []
            self._by_id: dict[str, SentMessage] = {}
            self._by_uuid: dict[str, SentMessage] = {}
            self._chat_uuids: dict[str, str] = {}
            self.chats: dict[str, FakeChat] = {}
            self.users: dict[str, dict[str, Any]] = {}
            self.buzzes: list[tuple[str, str, list[str]]] = []  # (message_id, kind, user ids)
            self.card_updates: list[tuple[str, dict[str, Any]]] = []  # (callback token, card)
            self.recalled: set[str] = set()
            self._counter = 0

    # -- helpers for tests -------------------------------------------------------------------

    @property
    def tokens_issued(self) -> int:
        """How many distinct tenant tokens were handed out."""
        with self.lock:
            return len(self._tokens)

    def expire_tokens(self) -> None:
        """Make every token issued so far invalid (the next call with one gets 99991663)."""
        with self.lock:
            for token in self._tokens:
                token.revoked = True

    def messages(self) -> list[SentMessage]:
        """Every message sent or replied (each uuid once), in order."""
        with self.lock:
            return list(self._messages)

    def texts(self, chat_id: str | None = None) -> list[str]:
        """The text of every text message (optionally to one chat), in order."""
        return [m.text for m in self.messages() if m.text is not None and chat_id in (None, m.chat_id)]

    def add_user(self, open_id: str, name: str = "", **fields: Any) -> dict[str, Any]:
        """Register a user for get_user (fields as in contact/v3 `data.user`)."""
        user = {"open_id": open_id, "union_id": f"on_{open_id[3:]}", "name": name or open_id, **fields}
        user.setdefault("status", {"is_frozen": False, "is_resigned": False, "is_activated": True})
        with self.lock:
            self.users[open_id] = user
        return user

    def add_chat(self, chat_id: str, members: tuple[str, ...] | list[str] = (), name: str = "") -> FakeChat:
        """Register a group the bot is in, with these members."""
        with self.lock:
            chat = self.chats[chat_id] = FakeChat(chat_id, name, members=set(members))
        return chat

    def recall(self, message_id: str) -> None:
        """Mark a message recalled: replies, PATCH and buzz on it then fail with 230011."""
        with self.lock:
            self.recalled.add(message_id)

    # -- token -------------------------------------------------------------------------------

    @_locked
    def issue_token(self, body: Any) -> Reply:
        """tenant_access_token/internal: same token while > reuse window remains, else a new one."""
        self.token_requests += 1
        if not isinstance(body, dict) or body.get("app_id") != self.app_id:
            raise ApiError(10003, "invalid param")
        if body.get("app_secret") != self.app_secret:
            raise ApiError(10014, "app secret invalid")
        now = time.monotonic()
        current = self._tokens[-1] if self._tokens else None
        if current is None or current.revoked or current.expires_at - now <= self.token_reuse_window:
            current = _Token(f"t-{len(self._tokens) + 1}", now + self.token_lifetime)
            self._tokens.append(current)
        expire = max(0, int(current.expires_at - now))
        return Reply(200, {"code": 0, "msg": "ok", "tenant_access_token": current.value, "expire": expire})

    @_locked
    def check_token(self, header: str | None) -> None:
        """Raise the auth error Feishu gives for this Authorization header, if any."""
        if not header or not header.startswith("Bearer ") or not header[7:].strip():
            raise ApiError(*AUTH_ERRORS["missing"])
        value = header[7:].strip()
        if not value.startswith(("t-", "u-")):
            raise ApiError(*AUTH_ERRORS["malformed"])
        now = time.monotonic()
        if not any(t.value == value and not t.revoked and t.expires_at > now for t in self._tokens):
            raise ApiError(*AUTH_ERRORS["invalid"])

    # -- messages ----------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter}"

    def _message_data(self, message: SentMessage) -> dict[str, Any]:
        millis = str(int(message.created * 1000))
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "msg_type": message.msg_type,
            "create_time": millis,
            "update_time": millis,
            "deleted": False,
            "updated": bool(message.updates),
            "chat_id": message.chat_id,
            "sender": {"id": self.app_id, "id_type": "app_id", "sender_type": "app", "tenant_key": TENANT_KEY},
            "body": {"content": message.raw_content},
        }
        if message.reply_to:
            data["root_id"] = data["parent_id"] = message.reply_to
            if message.in_thread:
                data["thread_id"] = f"omt_{message.reply_to[3:]}"
        return data

    def _store(self, message: SentMessage) -> Reply:
        """Keep a new message, or answer with the earlier one sent under the same uuid."""
        if message.uuid and message.uuid in self._by_uuid:
            return _ok(self._message_data(self._by_uuid[message.uuid]))
        self._messages.append(message)
        self._by_id[message.message_id] = message
        if message.uuid:
            self._by_uuid[message.uuid] = message
        return _ok(self._message_data(message))

    @_locked
    def api_send(self, *, body: Any, size: int, query: dict[str, str]) -> Reply:
        """POST /open-apis/im/v1/messages?receive_id_type=..."""
        receive_id_type = query.get("receive_id_type", "")
        if receive_id_type not in RECEIVE_ID_TYPES:
            raise ApiError(99992402, "field validation failed: receive_id_type")
        _require_str(body, "receive_id", "msg_type", "content")
        receive_id, msg_type = body["receive_id"], body["msg_type"]
        if receive_id_type == "chat_id" and not receive_id.startswith("oc_"):
            raise ApiError(230034, "The receive_id is invalid for the receive_id_type: chat_id")
        if receive_id_type == "open_id" and not receive_id.startswith("ou_"):
            raise ApiError(230034, "The receive_id is invalid for the receive_id_type: open_id")
        content = _decode_content(body, size, msg_type)
        uuid = _check_uuid(body.get("uuid"))
        chat_id = receive_id if receive_id_type == "chat_id" else f"oc_p2p_{receive_id}"
        message = SentMessage(
            self._next_id("om"), chat_id, receive_id, receive_id_type, msg_type, content, body["content"], uuid
        )
        return self._store(message)

    @_locked
    def api_reply(self, *, body: Any, size: int, query: dict[str, str], message_id: str) -> Reply:
        """POST /open-apis/im/v1/messages/{message_id}/reply"""
        if message_id in self.recalled:
            raise ApiError(230011, "The message was withdrawn.")
        if not message_id.startswith("om_"):
            raise ApiError(230001, "invalid param: message_id")
        _require_str(body, "msg_type", "content")
        content = _decode_content(body, size, body["msg_type"])
        uuid = _check_uuid(body.get("uuid"))
        parent = self._by_id.get(message_id)
        message = SentMessage(
            self._next_id("om"),
            parent.chat_id if parent else None,
            None,
            None,
            body["msg_type"],
            content,
            body["content"],
            uuid,
            reply_to=message_id,
            in_thread=bool(body.get("reply_in_thread", False)),
        )
        return self._store(message)

    def _own_message(self, message_id: str) -> SentMessage:
        if message_id in self.recalled:
            raise ApiError(230011, "The message was withdrawn.")
        message = self._by_id.get(message_id)
        if message is None:
            raise ApiError(230012, "The operator is not the sender of this message.")
        return message

    @_locked
    def api_patch(self, *, body: Any, size: int, query: dict[str, str], message_id: str) -> Reply:
        """PATCH /open-apis/im/v1/messages/{message_id}: replace a card's content."""
        message = self._own_message(message_id)
        if message.msg_type != "interactive":
            raise ApiError(230001, "invalid param: only cards can be updated with PATCH")
        _require_str(body, "content")
        message.updates.append(_decode_content(body, size, "interactive"))
        return Reply(200, {"code": 0, "data": {}, "msg": "ok"})

    @_locked
    def api_delayed_update(self, *, body: Any, size: int, query: dict[str, str]) -> Reply:
        """POST /open-apis/interactive/v1/card/update: {"token", "card": <object>}."""
        _require_str(body, "token")
        if not isinstance(body.get("card"), dict):
            raise ApiError(230001, "invalid param: card must be a JSON object")
        if size > CARD_LIMIT:
            raise ApiError(230025, f"card too large: body {size} bytes > {CARD_LIMIT}")
        self.card_updates.append((body["token"], body["card"]))
        return _ok()

    @_locked
    def api_urgent(self, *, body: Any, size: int, query: dict[str, str], message_id: str, kind: str) -> Reply:
        """PATCH /open-apis/im/v1/messages/{message_id}/urgent_{app|sms|phone}"""
        if query.get("user_id_type") not in ("open_id", "user_id", "union_id"):
            raise ApiError(99992402, "field validation failed: user_id_type")
        ids = body.get("user_id_list") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 200 or not all(isinstance(i, str) for i in ids):
            raise ApiError(230001, "invalid param: user_id_list must hold 1 to 200 ids")
        message = self._own_message(message_id)
        members = self._members(message.chat_id)
        invalid = [i for i in ids if not i.startswith("ou_") or (members is not None and i not in members)]
        if len(invalid) == len(ids):
            raise ApiError(230001, "invalid param: every user in user_id_list is invalid")
        self.buzzes.append((message_id, kind, [i for i in ids if i not in invalid]))
        return _ok({"invalid_user_id_list": invalid})

    def _members(self, chat_id: str | None) -> set[str] | None:
        """Who is in a chat, or None when the fake does not know (anyone then counts)."""
        if chat_id and chat_id.startswith("oc_p2p_"):
            return {chat_id[len("oc_p2p_"):]}
        chat = self.chats.get(chat_id or "")
        return chat.members if chat else None

    # -- chats and users ---------------------------------------------------------------------

    def _chat_data(self, chat: FakeChat) -> dict[str, Any]:
        return {
            "chat_id": chat.chat_id,
            "name": chat.name,
            "description": chat.description,
            "owner_id": self.bot_open_id,
            "owner_id_type": "open_id",
            "chat_mode": "group",
            "chat_type": "private",
            "external": False,
            "tenant_key": TENANT_KEY,
        }

    @_locked
    def api_create_chat(self, *, body: Any, size: int, query: dict[str, str]) -> Reply:
        """POST /open-apis/im/v1/chats?user_id_type=open_id&uuid=...: one chat per uuid."""
        uuid = _check_uuid(query.get("uuid"))
        if uuid and uuid in self._chat_uuids:
            return _ok(self._chat_data(self.chats[self._chat_uuids[uuid]]))
        body = body if isinstance(body, dict) else {}
        name = str(body.get("name", ""))
        if body.get("chat_type") == "public" and len(name) < 2:
            raise ApiError(232020, "The name of a public chat must be at least 2 characters.")
        ids = body.get("user_id_list", [])
        if not isinstance(ids, list) or len(ids) > 50 or not all(str(i).startswith("ou_") for i in ids):
            raise ApiError(232043, "Invalid or too many ids in user_id_list.")
        chat = FakeChat(self._next_id("oc"), name, str(body.get("description", "")), set(ids))
        self.chats[chat.chat_id] = chat
        if uuid:
            self._chat_uuids[uuid] = chat.chat_id
        return _ok(self._chat_data(chat))

    @_locked
    def api_add_members(self, *, body: Any, size: int, query: dict[str, str], chat_id: str) -> Reply:
        """POST /open-apis/im/v1/chats/{chat_id}/members?member_id_type=open_id&succeed_type=N"""
        if not chat_id.startswith("oc_"):
            raise ApiError(232011, "The operator is not in the chat.")
        chat = self.chats.setdefault(chat_id, FakeChat(chat_id))
        ids = body.get("id_list") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 50:
            raise ApiError(230001, "invalid param: id_list must hold 1 to 50 ids")
        missing = [i for i in ids if not str(i).startswith("ou_")]
        if missing and query.get("succeed_type", "0") in ("0", "2"):
            raise ApiError(232043, f"Invalid ids: {missing}")
        chat.members.update(i for i in ids if i not in missing)
        return _ok({"invalid_id_list": [], "not_existed_id_list": missing, "pending_approval_id_list": []})

    @_locked
    def api_get_user(self, *, body: Any, size: int, query: dict[str, str], user_id: str) -> Reply:
        """GET /open-apis/contact/v3/users/{user_id}?user_id_type=open_id"""
        user = self.users.get(user_id)
        if user is None:
            raise ApiError(41012, "invalid user id")
        return _ok({"user": user})

    def api_bot_info(self, **_: Any) -> Reply:
        """GET /open-apis/bot/v3/info: `bot` at the top level, no `data`."""
        bot = {
            "activate_status": 2,
            "app_name": self.app_name,
            "avatar_url": "https://example.invalid/avatar.png",
            "ip_white_list": [],
            "open_id": self.bot_open_id,
        }
        return Reply(200, {"code": 0, "msg": "ok", "bot": bot})
