"""Verify, decrypt and parse what Feishu pushes to /webhook/feishu (feishu-protocol.md 1, 2, 3).

Order, with an Encrypt Key: check the signature over the raw body first, then decrypt,
then check the verification token. Only a URL verification may come unsigned, and it is
recognised only after decrypting; every other unsigned, undecryptable or mis-tokened push
gets the same 401 answer, so nothing tells an unauthenticated caller how far it got.
Legacy card callbacks (SHA-1 over the verification token) are refused unless enabled.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from app.chat.types import CardAction, IncomingMessage
from app.feishu.crypto import DecryptError, decrypt, event_signature, legacy_card_signature, same

# The one answer for every authenticity failure (missing or wrong signature, undecryptable
# body, wrong verification token): which step failed is for the log, not for the caller.
NOT_AUTHENTIC = ("not authentic: missing or wrong signature (X-Lark-* headers), undecryptable body"
                 " or wrong verification token")
LEGACY_REFUSED = ("legacy card callbacks (SHA-1 over the verification token) are refused;"
                  " set FEISHU_LEGACY_CARD_CALLBACKS=true to accept them")


class PushRejected(Exception):
    """The push is not acceptable; status says whether it is malformed (400) or not authentic (401)."""

    def __init__(self, status: int, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail or reason  # for the server's log only


@dataclass(frozen=True)
class SecurityConfig:
    verification_token: str | None
    encrypt_key: str | None
    max_age: int = 0  # seconds; 0 = no timestamp bound (dedup is the replay protection)
    legacy_cards: bool = False  # accept SHA-1 legacy card callbacks (the verification token alone signs them)


@dataclass(frozen=True)
class Push:
    """A verified push. kind: challenge, event, card_action or legacy_card."""

    kind: str
    payload: dict[str, Any]
    event_id: str | None = None
    event_type: str | None = None
    challenge: str | None = None


def _not_authentic(detail: str) -> PushRejected:
    return PushRejected(401, NOT_AUTHENTIC, detail)


def _load_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PushRejected(400, f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PushRejected(400, f"{what} must be a JSON object")
    return data


def _signature_headers(headers: Any) -> tuple[str, str, str] | None:
    timestamp = headers.get("X-Lark-Request-Timestamp")
    nonce = headers.get("X-Lark-Request-Nonce")
    signature = headers.get("X-Lark-Signature")
    if not (timestamp and nonce and signature):
        return None
    return timestamp, nonce, signature


def _check_signature(raw: bytes, signed: tuple[str, str, str], key: str, *, legacy: bool) -> None:
    timestamp, nonce, signature = signed
    expected = (legacy_card_signature if legacy else event_signature)(timestamp, nonce, key, raw)
    if not same(expected, signature.lower()):
        raise _not_authentic("signature does not match")


def _check_age(timestamp: str, max_age: int, now: float) -> None:
    """Only after the signature matched: the caller is authentic, so the reason may be precise."""
    if not max_age:
        return
    try:
        age = abs(now - float(timestamp))
    except ValueError:
        raise PushRejected(401, "X-Lark-Request-Timestamp is not a number") from None
    if age > max_age:
        raise PushRejected(401, f"timestamp is {int(age)} s away from now (limit FEISHU_MAX_EVENT_AGE={max_age})")


def _token_of(payload: dict[str, Any]) -> str | None:
    header = payload.get("header")
    if isinstance(header, dict) and "token" in header:
        return str(header["token"])
    token = payload.get("token")
    return str(token) if token is not None else None


def _is_legacy_card(payload: dict[str, Any]) -> bool:
    return "schema" not in payload and "action" in payload and "open_message_id" in payload


def _challenge(payload: dict[str, Any], security: SecurityConfig) -> Push:
    token = payload.get("token")
    if not isinstance(token, str) or not same(security.verification_token or "", token):
        raise _not_authentic("url_verification token does not match")
    challenge = payload.get("challenge")
    if not isinstance(challenge, str):
        raise PushRejected(400, "url_verification without a challenge string")
    return Push("challenge", payload, challenge=challenge)


def _decrypt(body: dict[str, Any], key: str) -> dict[str, Any]:
    try:
        return _load_object(decrypt(body["encrypt"], key), "decrypted body")
    except (DecryptError, PushRejected) as exc:
        # One answer for bad padding, a bad plaintext and a bad signature alike: telling them
        # apart to an unauthenticated caller would be a CBC padding oracle on captured pushes.
        raise _not_authentic(f"cannot decrypt: {exc}") from None


def verify_push(raw: bytes, headers: Any, security: SecurityConfig, *, now: float | None = None) -> Push:
    """Authenticate and decode one push; PushRejected(400|401, reason) otherwise."""
    now = time.time() if now is None else now
    if not security.verification_token:
        raise PushRejected(401, "FEISHU_VERIFICATION_TOKEN is not configured; refusing unverifiable pushes")
    body = _load_object(raw, "body")
    signed = _signature_headers(headers)
    encrypted = "encrypt" in body
    if encrypted and not security.encrypt_key:
        raise PushRejected(400, "push is encrypted but FEISHU_ENCRYPT_KEY is not configured")
    if encrypted and not isinstance(body["encrypt"], str):
        raise PushRejected(400, "encrypt must be a string")

    if not encrypted and _is_legacy_card(body):
        return _legacy_card(raw, body, signed, security, now)

    if security.encrypt_key:
        if signed is not None:
            _check_signature(raw, signed, security.encrypt_key, legacy=False)  # before decrypting anything
        payload = _decrypt(body, security.encrypt_key) if encrypted else body
        if payload.get("type") == "url_verification":
            return _challenge(payload, security)  # the one push the platform may send unsigned
        if signed is None:
            raise _not_authentic("missing X-Lark-Request-Timestamp, X-Lark-Request-Nonce or X-Lark-Signature")
        _check_age(signed[0], security.max_age, now)
    else:
        payload = body
        if payload.get("type") == "url_verification":
            return _challenge(payload, security)

    token = _token_of(payload)
    if token is None or not same(security.verification_token, token):
        raise _not_authentic("verification token does not match")
    event_id, event_type = _identity(payload)
    kind = "card_action" if event_type == "card.action.trigger" else "event"
    return Push(kind, payload, event_id=event_id, event_type=event_type)


def _legacy_card(raw: bytes, payload: dict[str, Any], signed: tuple[str, str, str] | None,
                 security: SecurityConfig, now: float) -> Push:
    """Old card callbacks: SHA-1 keyed by the verification token, never encrypted; off unless enabled."""
    if not security.legacy_cards:
        raise PushRejected(401, LEGACY_REFUSED)
    if signed is None:
        raise _not_authentic("legacy card callback without signature headers")
    _check_signature(raw, signed, security.verification_token or "", legacy=True)
    _check_age(signed[0], security.max_age, now)
    token = str(payload.get("token") or "")
    return Push("legacy_card", payload, event_id=f"legacy-card:{token}", event_type="card.action.trigger_v1")


def _identity(payload: dict[str, Any]) -> tuple[str, str]:
    header = payload.get("header")
    if payload.get("schema") == "2.0" and isinstance(header, dict):
        event_id, event_type = header.get("event_id"), header.get("event_type")
    elif "uuid" in payload:  # schema 1.0
        event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
        event_id, event_type = payload.get("uuid"), event.get("type")
    else:
        raise PushRejected(400, "neither a schema 2.0 event nor a 1.0 event (no header or uuid)")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 128:
        raise PushRejected(400, "event_id missing or invalid")
    if not isinstance(event_type, str) or not event_type:
        raise PushRejected(400, "event_type missing")
    return event_id, event_type


def message_id_of(payload: dict[str, Any]) -> str | None:
    """message.message_id of an im.message.receive_v1 payload (the second dedup key)."""
    message = (payload.get("event") or {}).get("message") if isinstance(payload.get("event"), dict) else None
    if isinstance(message, dict) and isinstance(message.get("message_id"), str):
        return message["message_id"][:128]
    return None


_SPACES = re.compile(r"[ \t]+")


def _text_of(message: dict[str, Any], bot_keys: set[str], names: dict[str, str]) -> str | None:
    try:
        content = json.loads(message.get("content") or "{}")
    except json.JSONDecodeError:
        return None
    if not isinstance(content, dict):
        return None
    kind = message.get("message_type")
    if kind == "text":
        text = str(content.get("text", ""))
        for key in sorted(names, key=len, reverse=True):  # @_user_10 before @_user_1
            text = text.replace(key, "" if key in bot_keys else f"@{names[key]}")
        return text
    if kind == "post":
        lines = []
        for paragraph in content.get("content") or []:
            parts = []
            for node in paragraph if isinstance(paragraph, list) else []:
                tag = node.get("tag")
                if tag in ("text", "a", "code_block"):
                    parts.append(str(node.get("text", "")))
                elif tag == "at":
                    key = str(node.get("user_id", ""))
                    if key not in bot_keys:
                        parts.append(f"@{node.get('user_name') or names.get(key, key)}")
            lines.append("".join(parts))
        return "\n".join(lines)
    return None


def to_incoming_message(payload: dict[str, Any], *, event_id: str, bot_open_id: str | None) -> IncomingMessage | None:
    """An im.message.receive_v1 payload as an IncomingMessage, or None if it is not text we can read."""
    event = payload.get("event") or {}
    message = event.get("message") or {}
    sender = (event.get("sender") or {}).get("sender_id") or {}
    mentions = [m for m in message.get("mentions") or [] if isinstance(m, dict)]
    bot_keys = {
        str(m.get("key")) for m in mentions
        if bot_open_id and (m.get("id") or {}).get("open_id") == bot_open_id
    }
    names = {str(m.get("key")): str(m.get("name") or (m.get("id") or {}).get("open_id", "")) for m in mentions}
    text = _text_of(message, bot_keys, names)
    if text is None or not sender.get("open_id"):
        return None
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return IncomingMessage(
        event_id=event_id,
        message_id=str(message.get("message_id", "")),
        chat_id=str(message.get("chat_id", "")),
        chat_type=str(message.get("chat_type", "p2p")),
        open_id=str(sender["open_id"]),
        text="\n".join(line for line in lines if line),
        mentioned_bot=bool(bot_keys),
    )


def to_card_action(push: Push) -> CardAction:
    """The click in a card.action.trigger or legacy callback payload."""
    payload = push.payload
    if push.kind == "legacy_card":
        action = payload.get("action") or {}
        return CardAction(
            event_id=push.event_id or "", open_id=str(payload.get("open_id", "")),
            value=action.get("value") if isinstance(action.get("value"), dict) else {},
            message_id=payload.get("open_message_id"), chat_id=payload.get("open_chat_id"),
            update_token=payload.get("token"), form_value=action.get("form_value") or {},
        )
    event = payload.get("event") or {}
    action = event.get("action") or {}
    context = event.get("context") or {}
    return CardAction(
        event_id=push.event_id or "", open_id=str((event.get("operator") or {}).get("open_id", "")),
        value=action.get("value") if isinstance(action.get("value"), dict) else {},
        message_id=context.get("open_message_id"), chat_id=context.get("open_chat_id"),
        update_token=event.get("token"), form_value=action.get("form_value") or {},
    )
