"""Password hashing with Argon2id (argon2-cffi): slow by design, salted, self-describing."""
from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10

_hasher = PasswordHasher()  # RFC 9106 low-memory profile: t=3, m=64 MiB, p=4


@cache
def _dummy_hash() -> str:
    """Verified against when the account is unknown, so a wrong name costs as much as a wrong password.

    Made on first use, not at import: an Argon2id hash takes 64 MiB and ~0.2 s, which
    every web and job process would otherwise pay at start even if nobody signs in.
    """
    return _hasher.hash("openclaw-no-such-account")


def hash_password(password: str) -> str:
    """An Argon2id hash of password."""
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    """True when password matches stored; an absent hash still spends the same time."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when stored was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored)


def weakness(password: str) -> str | None:
    """Why password is too weak to accept, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(set(password)) < 4:
        return "a password needs more than three different characters"
    return None
