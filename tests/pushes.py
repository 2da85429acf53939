"""Build what Feishu pushes to /webhook/feishu: events, encrypted and signed like the platform does."""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from app.feishu.crypto import encrypt, event_signature, legacy_card_signature
from tests.conftest import ENCRYPT_KEY, VERIFICATION_TOKEN

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "feishu"
BOT_OPEN_ID = "ou_bot_open_id_example"

# The documented vector event-push-encrypted-signed-im-message (feishu-protocol.md 10.1).
IM_VECTOR_HEADERS = {
    "X-Lark-Request-Timestamp": "1700000000",
    "X-Lark-Request-Nonce": "2a4d7f0e-9c1b-4e7a-8d33-6b5f1c0a9e21",
    "X-Lark-Signature": "5bd1b05c0b72be613d4f798b4805de8d4a9380c21bdb130167e1a91a3ec02b8c",
}
IM_VECTOR_EVENT_ID = "5e3702a84e847582be8db7fb73283c02"
IM_VECTOR_MESSAGE_ID = "om_5ce6d572455d361153b7cb51da133945"
CARD_VECTOR_HEADERS = {
    "X-Lark-Request-Timestamp": "1700000123",
    "X-Lark-Request-Nonce": "nonce-card-1",
    "X-Lark-Signature": "bf6c88fd37c50f3c7395dbe7b497fdd10a5f8c179c49fddd5f235a0b674d81c0",
}
LEGACY_CARD_HEADERS = {
    "X-Lark-Request-Timestamp": "1700000456",
    "X-Lark-Request-Nonce": "legacy-nonce",
    "X-Lark-Signature": "355c15dba5834b26496c7df9b2b1b7ea2c0e8b25",
}


def fixture_bytes(name: str) -> bytes:
    """A saved body exactly as the doc prints it (a single trailing newline, if any, is dropped)."""
    data = (FIXTURES / name).read_bytes()
    return data[:-1] if data.endswith(b"\n") else data


def signed_headers(raw: bytes, *, key: str = ENCRYPT_KEY, timestamp: str | None = None,
                   nonce: str | None = None, legacy: bool = False) -> dict[str, str]:
    """The three X-Lark-* headers for raw, as the platform computes them."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex
    sign = legacy_card_signature if legacy else event_signature
    return {
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": sign(timestamp, nonce, key, raw),
    }


def encrypted_body(payload: dict[str, Any], *, key: str = ENCRYPT_KEY) -> bytes:
    """{"encrypt": base64(iv + AES-256-CBC(payload))} as raw bytes."""
    plaintext = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return json.dumps({"encrypt": encrypt(plaintext, key, os.urandom(16))}).encode("ascii")


def encrypted_push(payload: dict[str, Any], *, key: str = ENCRYPT_KEY, **header_args: Any) -> tuple[bytes, dict[str, str]]:
    """An encrypted, signed push: (raw body, headers)."""
    raw = encrypted_body(payload, key=key)
    return raw, signed_headers(raw, key=key, **header_args)


def im_message(
    text: str,
    *,
    sender: str = "ou_bob",
    chat_type: str = "group",
    chat_id: str = "oc_test_chat",
    mention_bot: bool = True,
    mentions: list[dict[str, Any]] | None = None,
    message_id: str | None = None,
    event_id: str | None = None,
    message_type: str = "text",
    content: dict[str, Any] | None = None,
    token: str = VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """A schema 2.0 im.message.receive_v1 payload; with mention_bot the text starts with @_user_1 = the bot."""
    all_mentions = list(mentions or [])
    if mention_bot:
        key = f"@_user_{len(all_mentions) + 1}"
        all_mentions.append({"key": key, "id": {"open_id": BOT_OPEN_ID, "union_id": "on_bot", "user_id": ""},
                             "name": "OpsBot", "tenant_key": "t"})
        text = f"{key} {text}"
    if content is None:
        content = {"text": text}
    message: dict[str, Any] = {
        "message_id": message_id or f"om_{uuid.uuid4().hex}",
        "create_time": str(int(time.time() * 1000)),
        "update_time": str(int(time.time() * 1000)),
        "chat_id": chat_id,
        "chat_type": chat_type,
        "message_type": message_type,
        "content": json.dumps(content, ensure_ascii=False),
    }
    if all_mentions:
        message["mentions"] = all_mentions
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id or uuid.uuid4().hex,
            "event_type": "im.message.receive_v1",
            "create_time": str(int(time.time() * 1000)),
            "token": token,
            "app_id": "cli_test",
            "tenant_key": "t",
        },
        "event": {
            "sender": {"sender_id": {"open_id": sender, "union_id": f"on_{sender}", "user_id": ""},
                       "sender_type": "user", "tenant_key": "t"},
            "message": message,
        },
    }


def card_action(value: dict[str, Any], *, operator: str = "ou_bob", event_id: str | None = None,
                token: str = VERIFICATION_TOKEN) -> dict[str, Any]:
    """A schema 2.0 card.action.trigger callback payload."""
    return {
        "schema": "2.0",
        "header": {"event_id": event_id or uuid.uuid4().hex, "token": token, "create_time": "1603977298000000",
                   "event_type": "card.action.trigger", "tenant_key": "t", "app_id": "cli_test"},
        "event": {
            "operator": {"tenant_key": "t", "open_id": operator, "union_id": f"on_{operator}"},
            "token": f"c-{uuid.uuid4().hex}",
            "action": {"value": value, "tag": "button"},
            "host": "im_message",
            "context": {"open_message_id": "om_card_message", "open_chat_id": "oc_test_chat"},
        },
    }
