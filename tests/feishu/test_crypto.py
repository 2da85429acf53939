"""Every test vector of feishu-protocol.md section 10, with its inputs copied verbatim."""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from app.feishu import crypto
from app.feishu.crypto import DecryptError, decrypt, event_signature, legacy_card_signature
from app.feishu.events import to_incoming_message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feishu"

TEST_KEY = "test key"
VERIFICATION_TOKEN = "rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV"
DOC_CIPHERTEXT = "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="
IM_TIMESTAMP = "1700000000"
IM_NONCE = "2a4d7f0e-9c1b-4e7a-8d33-6b5f1c0a9e21"
IM_SIGNATURE = "5bd1b05c0b72be613d4f798b4805de8d4a9380c21bdb130167e1a91a3ec02b8c"


def fixture_bytes(name: str) -> bytes:
    """A saved body, exactly as the doc prints it (files are stored without a trailing newline)."""
    data = (FIXTURES / name).read_bytes()
    return data[:-1] if data.endswith(b"\n") else data


def test_the_fixture_files_have_no_trailing_newline_so_signatures_cover_the_documented_bytes() -> None:
    for path in FIXTURES.iterdir():
        assert not path.read_bytes().endswith(b"\n"), path.name


# -- decrypt-doc-hello-world -----------------------------------------------------------------


def test_the_official_docs_ciphertext_decrypts_to_hello_world() -> None:
    assert decrypt(DOC_CIPHERTEXT, TEST_KEY) == b"hello world"


def test_the_official_docs_ciphertext_carries_five_bytes_of_pkcs7_padding() -> None:
    raw = base64.b64decode(DOC_CIPHERTEXT)
    key = hashlib.sha256(TEST_KEY.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:16])).decryptor()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    assert padded.hex() == "68656c6c6f20776f726c640505050505"


# -- decrypt-go-sdk-test-utf8-fullblock-pad --------------------------------------------------


def test_the_go_sdk_ciphertext_decrypts_to_the_documented_json_with_a_full_padding_block() -> None:
    plaintext = decrypt(fixture_bytes("go_sdk_ciphertext.txt").decode("ascii"), "1212121212")
    assert plaintext == fixture_bytes("go_sdk_plaintext.json")
    assert len(plaintext) % 16 == 0  # so the padding was a whole extra block of 16
    event = json.loads(plaintext)
    assert event["event"]["object"]["name"] == "张三"
    assert event["header"]["event_type"] == "contact.user.created_v3"


# -- event-signature-go-sdk-inputs ----------------------------------------------------------


def test_the_signature_of_the_go_sdk_inputs_matches_the_documented_digest() -> None:
    body = fixture_bytes("go_sdk_plaintext.json")
    expected = "4dca085198cb3216defc5b65b0668c1328b038a22dbadf2bc6c4fdc3d32bbc45"
    assert event_signature("timestamp", "nonce", "1212121212", body) == expected


# -- event-push-encrypted-signed-im-message -------------------------------------------------


def test_the_encrypted_im_message_push_has_a_valid_signature() -> None:
    body = fixture_bytes("im_message_encrypted.json")
    assert event_signature(IM_TIMESTAMP, IM_NONCE, TEST_KEY, body) == IM_SIGNATURE
    assert crypto.same(event_signature(IM_TIMESTAMP, IM_NONCE, TEST_KEY, body), IM_SIGNATURE)


def test_the_encrypted_im_message_push_decrypts_to_the_documented_event_with_our_token() -> None:
    body = json.loads(fixture_bytes("im_message_encrypted.json"))
    plaintext = decrypt(body["encrypt"], TEST_KEY)
    assert plaintext == fixture_bytes("im_message_decrypted.json")
    payload = json.loads(plaintext)
    assert payload["header"]["token"] == VERIFICATION_TOKEN
    assert payload["header"]["event_type"] == "im.message.receive_v1"


def test_the_encrypted_im_message_push_strips_to_the_command_text_without_the_bot_mention() -> None:
    payload = json.loads(decrypt(json.loads(fixture_bytes("im_message_encrypted.json"))["encrypt"], TEST_KEY))
    message = to_incoming_message(
        payload, event_id=payload["header"]["event_id"], bot_open_id="ou_bot_open_id_example"
    )
    assert message is not None
    assert message.text == "deploy api 版本 v2"
    assert message.mentioned_bot is True
    assert message.chat_type == "group"
    assert message.open_id == "ou_84aad35d084aa403a838cf73ee18467"
    assert message.message_id == "om_5ce6d572455d361153b7cb51da133945"


# -- event-push-tampered-body ---------------------------------------------------------------


def test_one_added_space_in_the_body_makes_the_signature_invalid() -> None:
    tampered = fixture_bytes("im_message_tampered.json")
    assert tampered.replace(b'"encrypt": "', b'"encrypt":"') == fixture_bytes("im_message_encrypted.json")
    assert event_signature(IM_TIMESTAMP, IM_NONCE, TEST_KEY, tampered) != IM_SIGNATURE
    assert not crypto.same(event_signature(IM_TIMESTAMP, IM_NONCE, TEST_KEY, tampered), IM_SIGNATURE)


# -- url-verification-encrypted -------------------------------------------------------------


def test_the_encrypted_url_verification_decrypts_to_the_challenge() -> None:
    body = json.loads(fixture_bytes("url_verification_encrypted.json"))
    plaintext = decrypt(body["encrypt"], TEST_KEY)
    assert plaintext == fixture_bytes("url_verification_decrypted.json")
    payload = json.loads(plaintext)
    assert payload == {"challenge": "ajls384kdjx98XX", "token": VERIFICATION_TOKEN, "type": "url_verification"}


# -- card-action-trigger-signature ----------------------------------------------------------


def test_the_card_action_trigger_signature_matches_the_documented_digest() -> None:
    body = fixture_bytes("card_action_trigger.json")
    expected = "bf6c88fd37c50f3c7395dbe7b497fdd10a5f8c179c49fddd5f235a0b674d81c0"
    assert event_signature("1700000123", "nonce-card-1", TEST_KEY, body) == expected


# -- legacy-card-callback-signature-sha1 ----------------------------------------------------


def test_the_legacy_card_callback_signature_is_sha1_keyed_by_the_verification_token() -> None:
    body = fixture_bytes("legacy_card_callback.json")
    expected = "355c15dba5834b26496c7df9b2b1b7ea2c0e8b25"
    assert legacy_card_signature("1700000456", "legacy-nonce", VERIFICATION_TOKEN, body) == expected
    # The encrypt key is not the legacy key, and SHA-256 is not the legacy hash.
    assert legacy_card_signature("1700000456", "legacy-nonce", TEST_KEY, body) != expected
    assert event_signature("1700000456", "legacy-nonce", VERIFICATION_TOKEN, body)[:40] != expected


# -- decrypt-wrong-key ----------------------------------------------------------------------


def test_decrypting_the_docs_ciphertext_with_another_key_is_rejected_for_bad_padding() -> None:
    with pytest.raises(DecryptError, match="PKCS#7"):
        decrypt(DOC_CIPHERTEXT, "other key")


# -- the rest of decrypt's contract ---------------------------------------------------------


@pytest.mark.parametrize(
    "encrypted",
    [
        "not base64!!",
        base64.b64encode(b"\0" * 16).decode(),  # an IV and no ciphertext
        base64.b64encode(b"\0" * 16 + b"\1" * 15).decode(),  # ciphertext not a multiple of 16
    ],
    ids=["not-base64", "iv-only", "partial-block"],
)
def test_malformed_ciphertexts_are_rejected(encrypted: str) -> None:
    with pytest.raises(DecryptError):
        decrypt(encrypted, TEST_KEY)


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 31, 32])
def test_encrypt_round_trips_through_decrypt_for_every_padding_length(size: int) -> None:
    plaintext = ("版" * size).encode("utf-8")[:size]
    encrypted = crypto.encrypt(plaintext, TEST_KEY, iv=bytes(range(16)))
    assert decrypt(encrypted, TEST_KEY) == plaintext


def test_encrypting_the_documented_plaintext_with_its_iv_reproduces_the_documented_ciphertext() -> None:
    body = json.loads(fixture_bytes("im_message_encrypted.json"))
    iv = base64.b64decode(body["encrypt"])[:16]
    assert crypto.encrypt(fixture_bytes("im_message_decrypted.json"), TEST_KEY, iv) == body["encrypt"]
