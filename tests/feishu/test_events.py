"""verify_push (authenticity, decryption, identity) and message parsing (mentions, post)."""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from app.feishu.crypto import encrypt
from app.feishu.events import (
    LEGACY_REFUSED,
    NOT_AUTHENTIC,
    PushRejected,
    SecurityConfig,
    message_id_of,
    to_incoming_message,
    verify_push,
)
from tests.conftest import ENCRYPT_KEY, VERIFICATION_TOKEN
from tests.pushes import (
    BOT_OPEN_ID,
    IM_VECTOR_EVENT_ID,
    IM_VECTOR_HEADERS,
    IM_VECTOR_MESSAGE_ID,
    encrypted_push,
    fixture_bytes,
    im_message,
    signed_headers,
)

SECURE = SecurityConfig(verification_token=VERIFICATION_TOKEN, encrypt_key=ENCRYPT_KEY)
LEGACY_ON = SecurityConfig(verification_token=VERIFICATION_TOKEN, encrypt_key=ENCRYPT_KEY, legacy_cards=True)
TOKEN_ONLY = SecurityConfig(verification_token=VERIFICATION_TOKEN, encrypt_key=None)
VECTOR_TIME = 1700000000.0


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _rejected(raw: bytes, headers: dict[str, str], security: SecurityConfig = SECURE, **kw: Any) -> PushRejected:
    with pytest.raises(PushRejected) as caught:
        verify_push(raw, headers, security, **kw)
    return caught.value


# -- url_verification ------------------------------------------------------------------------


def test_a_plain_url_verification_is_answered_with_its_challenge_without_a_signature() -> None:
    raw = _json({"challenge": "ajls384kdjxxxx", "token": VERIFICATION_TOKEN, "type": "url_verification"})
    push = verify_push(raw, {}, SECURE)
    assert push.kind == "challenge"
    assert push.challenge == "ajls384kdjxxxx"


def test_an_encrypted_url_verification_is_decrypted_and_answered_with_its_challenge() -> None:
    push = verify_push(fixture_bytes("url_verification_encrypted.json"), {}, SECURE)
    assert push.kind == "challenge"
    assert push.challenge == "ajls384kdjx98XX"


def test_a_url_verification_with_the_wrong_token_is_refused_with_401() -> None:
    raw = _json({"challenge": "c", "token": "not-our-token", "type": "url_verification"})
    error = _rejected(raw, {})
    assert error.status == 401
    assert "token" in error.reason


@pytest.mark.parametrize("token", ["\\ud800", "令牌", "\\u0000"])
def test_a_token_that_is_not_ascii_is_refused_with_401_not_an_exception(token: str) -> None:
    raw = ('{"challenge": "c", "token": "%s", "type": "url_verification"}' % token).encode()
    assert _rejected(raw, {}, TOKEN_ONLY).status == 401
    event = json.dumps(im_message("/help", token=json.loads(f'"{token}"'))).encode()  # \\u escapes kept as is
    assert _rejected(event, {}, TOKEN_ONLY).status == 401


def test_an_encrypted_url_verification_under_another_key_is_refused_with_401() -> None:
    raw, _ = encrypted_push({"challenge": "c", "token": VERIFICATION_TOKEN, "type": "url_verification"},
                            key="other key")
    assert _rejected(raw, {}).status == 401


def test_an_encrypted_push_without_a_configured_encrypt_key_is_a_400() -> None:
    error = _rejected(fixture_bytes("url_verification_encrypted.json"), {}, TOKEN_ONLY)
    assert error.status == 400
    assert "FEISHU_ENCRYPT_KEY" in error.reason


def test_without_a_verification_token_configured_every_push_is_refused() -> None:
    raw = _json({"challenge": "c", "token": VERIFICATION_TOKEN, "type": "url_verification"})
    error = _rejected(raw, {}, SecurityConfig(verification_token=None, encrypt_key=ENCRYPT_KEY))
    assert error.status == 401
    assert "FEISHU_VERIFICATION_TOKEN" in error.reason


# -- the documented encrypted, signed event --------------------------------------------------


def test_the_documented_encrypted_event_is_verified_decrypted_and_identified() -> None:
    push = verify_push(fixture_bytes("im_message_encrypted.json"), IM_VECTOR_HEADERS, SECURE, now=VECTOR_TIME)
    assert push.kind == "event"
    assert push.event_id == IM_VECTOR_EVENT_ID
    assert push.event_type == "im.message.receive_v1"
    assert push.payload == json.loads(fixture_bytes("im_message_decrypted.json"))
    assert message_id_of(push.payload) == IM_VECTOR_MESSAGE_ID


def test_the_tampered_body_is_refused_as_a_signature_mismatch() -> None:
    error = _rejected(fixture_bytes("im_message_tampered.json"), IM_VECTOR_HEADERS, now=VECTOR_TIME)
    assert error.status == 401
    assert "signature" in error.reason


@pytest.mark.parametrize("missing", ["X-Lark-Request-Timestamp", "X-Lark-Request-Nonce", "X-Lark-Signature"])
def test_a_missing_signature_header_is_refused_with_401_when_an_encrypt_key_is_set(missing: str) -> None:
    headers = {k: v for k, v in IM_VECTOR_HEADERS.items() if k != missing}
    error = _rejected(fixture_bytes("im_message_encrypted.json"), headers)
    assert error.status == 401
    assert "missing" in error.reason


def test_a_plain_event_without_signature_headers_is_refused_when_an_encrypt_key_is_set() -> None:
    assert _rejected(_json(im_message("/help")), {}).status == 401


def test_a_plain_event_is_accepted_on_its_token_alone_when_no_encrypt_key_is_set() -> None:
    payload = im_message("/help")
    push = verify_push(_json(payload), {}, TOKEN_ONLY)
    assert push.event_id == payload["header"]["event_id"]


def test_a_plain_event_with_the_wrong_token_is_refused_when_no_encrypt_key_is_set() -> None:
    assert _rejected(_json(im_message("/help", token="wrong")), {}, TOKEN_ONLY).status == 401


def test_a_correctly_signed_event_with_the_wrong_token_inside_is_refused() -> None:
    raw, headers = encrypted_push(im_message("/help", token="wrong"))
    error = _rejected(raw, headers)
    assert error.status == 401
    assert "token" in error.reason


def test_an_uppercase_hex_signature_is_accepted_because_the_header_is_lowercased_before_comparing() -> None:
    # The platform sends lowercase hex (feishu-protocol.md 1.5); some samples print uppercase (section 9).
    headers = dict(IM_VECTOR_HEADERS, **{"X-Lark-Signature": IM_VECTOR_HEADERS["X-Lark-Signature"].upper()})
    push = verify_push(fixture_bytes("im_message_encrypted.json"), headers, SECURE, now=VECTOR_TIME)
    assert push.event_id == IM_VECTOR_EVENT_ID


def test_a_signature_made_with_another_key_is_refused() -> None:
    raw = fixture_bytes("im_message_encrypted.json")
    headers = signed_headers(raw, key="other key", timestamp="1700000000", nonce="n")
    assert _rejected(raw, headers).status == 401


def test_a_body_that_is_not_json_is_a_400() -> None:
    error = _rejected(b"{not json", {})
    assert error.status == 400
    assert "JSON" in error.reason


def test_a_json_body_that_is_not_an_object_is_a_400() -> None:
    assert _rejected(b"[1, 2]", {}).status == 400


def test_an_encrypt_field_that_is_not_a_string_is_a_400() -> None:
    assert _rejected(b'{"encrypt": 42}', {}).status == 400


def test_an_encrypted_payload_that_is_not_json_inside_is_refused_like_a_wrong_key() -> None:
    raw = json.dumps({"encrypt": encrypt(b"plain words", ENCRYPT_KEY, b"\0" * 16)}).encode()
    wrong_key, _ = encrypted_push({"challenge": "c", "token": VERIFICATION_TOKEN, "type": "url_verification"},
                                  key="other key")
    error, expected = _rejected(raw, signed_headers(raw)), _rejected(wrong_key, {})
    assert error.status == 401
    assert (error.status, error.reason) == (expected.status, expected.reason)


def _flip(encrypted_body: bytes, index: int) -> bytes:
    raw = bytearray(base64.b64decode(json.loads(encrypted_body)["encrypt"]))
    raw[index] ^= 0x01
    return json.dumps({"encrypt": base64.b64encode(bytes(raw)).decode()}).encode()


def test_bad_padding_and_a_bad_plaintext_get_the_same_answer_so_there_is_no_padding_oracle() -> None:
    original = fixture_bytes("url_verification_encrypted.json")
    padding_intact = _flip(original, 0)  # an IV byte: garbles the first plaintext byte only
    padding_broken = _flip(original, -17)  # last byte of the next-to-last block: garbles the padding
    first, second = _rejected(padding_intact, {}), _rejected(padding_broken, {})
    assert (first.status, first.reason) == (second.status, second.reason)
    assert first.status == 401


def test_a_signed_event_without_an_event_id_is_a_400() -> None:
    payload = im_message("/help")
    del payload["header"]["event_id"]
    raw, headers = encrypted_push(payload)
    assert _rejected(raw, headers).status == 400


# -- timestamp bound -------------------------------------------------------------------------


def test_with_no_age_bound_a_retry_six_hours_later_is_accepted() -> None:
    security = SecurityConfig(VERIFICATION_TOKEN, ENCRYPT_KEY, max_age=0)
    push = verify_push(fixture_bytes("im_message_encrypted.json"), IM_VECTOR_HEADERS, security,
                       now=VECTOR_TIME + 6 * 3600)
    assert push.event_id == IM_VECTOR_EVENT_ID


def test_a_configured_age_bound_refuses_a_stale_timestamp_and_names_the_setting() -> None:
    security = SecurityConfig(VERIFICATION_TOKEN, ENCRYPT_KEY, max_age=300)
    error = _rejected(fixture_bytes("im_message_encrypted.json"), IM_VECTOR_HEADERS, security,
                      now=VECTOR_TIME + 301)
    assert error.status == 401
    assert "FEISHU_MAX_EVENT_AGE" in error.reason


def test_a_configured_age_bound_accepts_a_timestamp_inside_it() -> None:
    security = SecurityConfig(VERIFICATION_TOKEN, ENCRYPT_KEY, max_age=300)
    push = verify_push(fixture_bytes("im_message_encrypted.json"), IM_VECTOR_HEADERS, security,
                       now=VECTOR_TIME + 299)
    assert push.kind == "event"


def test_a_non_numeric_timestamp_is_refused_when_an_age_bound_is_configured() -> None:
    raw = fixture_bytes("im_message_encrypted.json")
    headers = signed_headers(raw, timestamp="yesterday")
    error = _rejected(raw, headers, SecurityConfig(VERIFICATION_TOKEN, ENCRYPT_KEY, max_age=300))
    assert error.status == 401


# -- identity ----------------------------------------------------------------------------------


def test_a_schema_1_event_is_identified_by_its_uuid_and_event_type() -> None:
    payload = {"ts": "1502199207.7171419", "uuid": "bc447199585340d1f3728d26b1c0297a", "token": VERIFICATION_TOKEN,
               "type": "event_callback", "event": {"type": "p2p_chat_create", "chat_id": "oc_1"}}
    raw, headers = encrypted_push(payload)
    push = verify_push(raw, headers, SECURE)
    assert push.kind == "event"
    assert push.event_id == "bc447199585340d1f3728d26b1c0297a"
    assert push.event_type == "p2p_chat_create"


def test_a_schema_1_event_with_the_wrong_top_level_token_is_refused() -> None:
    payload = {"uuid": "u1", "token": "wrong", "type": "event_callback", "event": {"type": "p2p_chat_create"}}
    raw, headers = encrypted_push(payload)
    assert _rejected(raw, headers).status == 401


def test_a_card_action_trigger_is_recognised_as_a_card_callback() -> None:
    raw = fixture_bytes("card_action_trigger.json")
    from tests.pushes import CARD_VECTOR_HEADERS

    push = verify_push(raw, CARD_VECTOR_HEADERS, SECURE)
    assert push.kind == "card_action"
    assert push.event_id == "f7984f25108f8137722bb63cee927e66"


def test_a_legacy_card_callback_is_checked_with_sha1_and_the_verification_token_when_enabled() -> None:
    from tests.pushes import LEGACY_CARD_HEADERS

    raw = fixture_bytes("legacy_card_callback.json")
    push = verify_push(raw, LEGACY_CARD_HEADERS, LEGACY_ON)
    assert push.kind == "legacy_card"
    bad = dict(LEGACY_CARD_HEADERS, **{"X-Lark-Signature": "0" * 40})
    assert _rejected(raw, bad, LEGACY_ON).status == 401


@pytest.mark.parametrize("security", [SECURE, TOKEN_ONLY], ids=["encrypt-key", "token-only"])
def test_a_correctly_signed_legacy_card_callback_is_refused_by_default(security: SecurityConfig) -> None:
    # Signed with SHA-1 over the verification token: anyone who learns the token could forge it.
    from tests.pushes import LEGACY_CARD_HEADERS

    error = _rejected(fixture_bytes("legacy_card_callback.json"), LEGACY_CARD_HEADERS, security)
    assert (error.status, error.reason) == (401, LEGACY_REFUSED)
    assert "FEISHU_LEGACY_CARD_CALLBACKS" in error.reason


# -- verify before decrypting; one answer for every failure ----------------------------------


def test_a_signed_push_is_checked_before_it_is_decrypted(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.feishu.events as events_module

    decrypted: list[str] = []
    real = events_module.decrypt
    monkeypatch.setattr(events_module, "decrypt", lambda data, key: decrypted.append(data) or real(data, key))
    tampered = fixture_bytes("im_message_tampered.json")
    assert _rejected(tampered, IM_VECTOR_HEADERS, now=VECTOR_TIME).reason == NOT_AUTHENTIC
    assert decrypted == []  # the signature failed first: no decryption, so no padding oracle
    verify_push(fixture_bytes("im_message_encrypted.json"), IM_VECTOR_HEADERS, SECURE, now=VECTOR_TIME)
    assert len(decrypted) == 1


def test_every_authenticity_failure_gets_the_same_status_and_reason() -> None:
    good_raw = fixture_bytes("im_message_encrypted.json")
    unsigned_event, _ = encrypted_push(im_message("/help"))  # decrypts fine, but is not signed
    wrong_key, _ = encrypted_push(im_message("/help"), key="other key")  # cannot be decrypted
    not_json = json.dumps({"encrypt": encrypt(b"plain words", ENCRYPT_KEY, b"\0" * 16)}).encode()
    signed_wrong_token = encrypted_push(im_message("/help", token="wrong"))
    cases = [
        (good_raw, {k: v for k, v in IM_VECTOR_HEADERS.items() if k != "X-Lark-Signature"}),  # missing header
        (fixture_bytes("im_message_tampered.json"), IM_VECTOR_HEADERS),  # wrong signature
        (unsigned_event, {}),  # decrypted but unsigned
        (wrong_key, {}),  # cannot decrypt
        (not_json, {}),  # decrypts to something that is not JSON
        (not_json, signed_headers(not_json)),  # signed, but the plaintext is not JSON
        signed_wrong_token,  # signed, decrypted, wrong verification token
        (_json(im_message("/help")), {}),  # plain and unsigned while an encrypt key is configured
    ]
    answers = {(e.status, e.reason) for e in (_rejected(raw, headers, now=VECTOR_TIME) for raw, headers in cases)}
    assert answers == {(401, NOT_AUTHENTIC)}


# -- text messages and mentions ----------------------------------------------------------------


def _mention(key: str, open_id: str, name: str) -> dict[str, Any]:
    return {"key": key, "id": {"open_id": open_id, "union_id": "on_x", "user_id": ""}, "name": name,
            "tenant_key": "t"}


def _parse(payload: dict[str, Any], bot: str | None = BOT_OPEN_ID):  # type: ignore[no-untyped-def]
    return to_incoming_message(payload, event_id=payload["header"]["event_id"], bot_open_id=bot)


def _text_message(text: str, mentions: list[dict[str, Any]], chat_type: str = "group") -> dict[str, Any]:
    return im_message(text, mention_bot=False, mentions=mentions, chat_type=chat_type)


def test_only_the_bots_placeholder_is_removed_and_other_mentions_become_at_names() -> None:
    payload = _text_message(
        "@_user_1 /restart nginx cc @_user_2 and @_user_3",
        [_mention("@_user_1", BOT_OPEN_ID, "OpsBot"), _mention("@_user_2", "ou_dave", "Dave"),
         _mention("@_user_3", "ou_erin", "Erin")],
    )
    message = _parse(payload)
    assert message.text == "/restart nginx cc @Dave and @Erin"
    assert message.mentioned_bot is True


def test_user_1_and_user_10_are_not_confused_when_the_bot_is_user_1() -> None:
    mentions = [_mention(f"@_user_{n}", f"ou_person{n}", f"P{n}") for n in range(2, 11)]
    mentions.insert(0, _mention("@_user_1", BOT_OPEN_ID, "OpsBot"))
    payload = _text_message("@_user_1 /help ping @_user_10 and @_user_2", mentions)
    message = _parse(payload)
    assert message.text == "/help ping @P10 and @P2"
    assert message.mentioned_bot is True


def test_user_1_and_user_10_are_not_confused_when_the_bot_is_user_10() -> None:
    mentions = [_mention(f"@_user_{n}", f"ou_person{n}", f"P{n}") for n in range(1, 10)]
    mentions.append(_mention("@_user_10", BOT_OPEN_ID, "OpsBot"))
    payload = _text_message("@_user_10 /status for @_user_1", mentions)
    message = _parse(payload)
    assert message.text == "/status for @P1"
    assert message.mentioned_bot is True


def test_at_all_is_not_taken_for_a_mention_of_the_bot() -> None:
    payload = _text_message("@_all /help", [{"key": "@_all", "id": {"open_id": "", "union_id": "", "user_id": ""},
                                              "name": "所有人", "tenant_key": "t"}])
    message = _parse(payload)
    assert message.mentioned_bot is False
    assert message.addressed_to_bot is False


def test_at_all_without_a_mentions_entry_is_not_a_mention_of_the_bot_either() -> None:
    message = _parse(_text_message("@_all /help", []))
    assert message.mentioned_bot is False
    assert message.text == "@_all /help"


def test_a_group_message_without_a_bot_mention_is_not_addressed_to_the_bot() -> None:
    payload = _text_message("@_user_1 look at this", [_mention("@_user_1", "ou_dave", "Dave")])
    message = _parse(payload)
    assert message.mentioned_bot is False
    assert message.addressed_to_bot is False
    assert message.text == "@Dave look at this"


def test_a_direct_message_without_a_mention_is_addressed_to_the_bot() -> None:
    message = _parse(_text_message("/help", [], chat_type="p2p"))
    assert message.mentioned_bot is False
    assert message.addressed_to_bot is True
    assert message.text == "/help"


def test_a_mention_is_not_taken_for_the_bot_when_the_bots_open_id_is_unknown() -> None:
    message = _parse(im_message("/help"), bot=None)
    assert message.mentioned_bot is False


def test_whitespace_is_collapsed_and_trimmed_after_stripping_the_mention() -> None:
    message = _parse(im_message("   /logs   nginx\t 50  "))
    assert message.text == "/logs nginx 50"


def test_the_parsed_message_carries_ids_chat_and_sender() -> None:
    payload = im_message("/help", sender="ou_carol", chat_id="oc_42", message_id="om_42")
    message = _parse(payload)
    assert (message.open_id, message.chat_id, message.message_id, message.chat_type) == (
        "ou_carol", "oc_42", "om_42", "group")
    assert message.event_id == payload["header"]["event_id"]


@pytest.mark.parametrize("message_type", ["image", "file", "sticker"])
def test_messages_without_text_are_not_parsed(message_type: str) -> None:
    payload = im_message("", message_type=message_type, content={"image_key": "img_1"})
    assert _parse(payload) is None


def test_a_recalled_message_with_empty_content_is_not_parsed_and_does_not_crash() -> None:
    payload = im_message("/help")
    payload["event"]["message"]["content"] = ""
    message = _parse(payload)
    assert message is None or message.text == ""


# -- post (rich text) messages -----------------------------------------------------------------


def test_a_post_message_keeps_text_links_code_and_other_mentions_and_drops_the_bot() -> None:
    content = {
        "title": "please",
        "content": [
            [{"tag": "at", "user_id": "@_user_1", "user_name": "OpsBot"},
             {"tag": "text", "text": " /deploy shop-api staging ", "style": []}],
            [{"tag": "text", "text": "see "}, {"tag": "a", "text": "runbook", "href": "https://wiki/x"},
             {"tag": "text", "text": " cc "}, {"tag": "at", "user_id": "@_user_2", "user_name": "Dave"}],
            [{"tag": "img", "image_key": "img_v2_1"}],
            [{"tag": "code_block", "language": "bash", "text": "systemctl status nginx"}],
        ],
    }
    payload = im_message(
        "", mention_bot=False, message_type="post", content=content,
        mentions=[_mention("@_user_1", BOT_OPEN_ID, "OpsBot"), _mention("@_user_2", "ou_dave", "Dave")],
    )
    message = _parse(payload)
    assert message is not None
    assert message.mentioned_bot is True
    assert message.text.splitlines() == ["/deploy shop-api staging", "see runbook cc @Dave", "systemctl status nginx"]


def test_a_post_mention_without_user_name_falls_back_to_the_mentions_name() -> None:
    content = {"title": "", "content": [[{"tag": "at", "user_id": "@_user_1"}, {"tag": "text", "text": " hi"}]]}
    payload = im_message("", mention_bot=False, message_type="post", content=content, chat_type="p2p",
                         mentions=[_mention("@_user_1", "ou_dave", "Dave")])
    message = _parse(payload)
    assert message.text == "@Dave hi"
    assert message.mentioned_bot is False
