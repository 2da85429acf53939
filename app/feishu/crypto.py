"""Feishu push security: AES-256-CBC decryption and request signatures (feishu-protocol.md 1.5, 1.6, 3.6)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class DecryptError(ValueError):
    """The `encrypt` field is not valid base64 AES-256-CBC with PKCS#7 padding under our key."""


def decrypt(encrypted: str, encrypt_key: str) -> bytes:
    """Plaintext bytes of a Feishu `encrypt` field; key = SHA-256(encrypt_key), IV = first 16 bytes."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError("encrypt is not valid base64") from None
    iv, ciphertext = raw[:16], raw[16:]
    if len(iv) != 16 or not ciphertext or len(ciphertext) % 16:
        raise DecryptError("ciphertext is not a non-empty multiple of 16 bytes")
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    # Strict PKCS#7: 1..16 bytes, all equal to the pad length (a wrong key fails here).
    if not 1 <= pad <= 16 or padded[-pad:] != bytes([pad]) * pad:
        raise DecryptError("bad PKCS#7 padding (wrong FEISHU_ENCRYPT_KEY?)")
    return padded[:-pad]


def encrypt(plaintext: bytes, encrypt_key: str, iv: bytes) -> str:
    """The inverse of decrypt, as the platform does it; used by tests and benchmarks."""
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    pad = 16 - len(plaintext) % 16
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    body = encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()
    return base64.b64encode(iv + body).decode("ascii")


def event_signature(timestamp: str, nonce: str, encrypt_key: str, raw_body: bytes) -> str:
    """hex(SHA-256(utf8(timestamp + nonce + encrypt_key) + raw_body)), lowercase."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + raw_body).hexdigest()


def legacy_card_signature(timestamp: str, nonce: str, verification_token: str, raw_body: bytes) -> str:
    """hex(SHA-1(utf8(timestamp + nonce + verification_token) + raw_body)) for old card callbacks."""
    return hashlib.sha1((timestamp + nonce + verification_token).encode("utf-8") + raw_body).hexdigest()


def same(expected: str, given: str) -> bool:
    """Constant-time comparison of two strings (hex digests, tokens); any text from a push, even a lone
    surrogate from a JSON escape, compares as unequal instead of raising."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass"))
