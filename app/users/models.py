"""User: a Feishu identity (open_id) with a role; seeded from the inventory. ApiToken and SignInThrottle for the web."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.db import UTCDateTime, db, utcnow
from app.inventory.schema import Role


def new_session_secret() -> str:
    """A fresh random per-account secret that browser sessions are bound to."""
    return secrets.token_hex(32)


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    open_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[Role] = mapped_column(String(16), default=Role.USER)
    source: Mapped[str] = mapped_column(String(16), default="inventory")  # inventory | local
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Admin web sign-in (local accounts from `users create`): the login name and a slow password hash.
    login: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Random per account; replaced by sign-out and role changes. Browser sessions are cookies signed with
    # SECRET_KEY, so this (which never leaves the database) is what ends copies of them and keeps a known
    # SECRET_KEY from minting a session for anyone.
    session_secret: Mapped[str] = mapped_column(String(64), default=new_session_secret)

    @property
    def actor(self) -> str:
        """The name audit records and services know this person by: the open_id, else web:LOGIN."""
        return self.open_id or f"web:{self.login or self.name}"

    # Flask-Login's user protocol.
    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        """The session's user id, bound to the password and session version: a reset or sign-out ends it."""
        return f"{self.id}:{self.session_fingerprint}"

    @property
    def session_fingerprint(self) -> str:
        """HMAC of the password hash under the account's session secret: unguessable without the database."""
        if not self.session_secret:
            return ""
        material = (self.password_hash or "").encode()
        return hmac.new(self.session_secret.encode(), material, hashlib.sha256).hexdigest()[:32]

    def __repr__(self) -> str:
        return f"<User {self.name} {self.open_id} {self.role}>"


class ApiToken(db.Model):  # type: ignore[name-defined]
    """A per-user API token; only its SHA-256 is kept, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # AI gateway allowances of this token alone (unset: only its owner's limits apply; 0: unlimited).
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    tokens_per_day: Mapped[int | None] = mapped_column(Integer)
    concurrency: Mapped[int | None] = mapped_column(Integer)


class SignInThrottle(db.Model):  # type: ignore[name-defined]
    """Failed sign-ins for one key (account:NAME or ip:ADDRESS) and the lock they caused."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
