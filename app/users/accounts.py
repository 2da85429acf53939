"""Local admin-web accounts: create, sign in (with lockout), sign out; each outcome audited."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from app.audit import service as audit
from app.errors import BotError, UsageError
from app.infra.db import db, utcnow
from app.inventory.schema import Role
from app.users import passwords, throttle
from app.users.models import User, new_session_secret

logger = logging.getLogger(__name__)

LOGIN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-@"


class SignInRefused(BotError):
    """The name and password did not match, or the account or address is locked."""


@dataclass(frozen=True)
class Client:
    """Where a sign-in attempt came from."""

    ip: str
    user_agent: str = ""


def get_user(user_id: int) -> User | None:
    """The user with this id, or None."""
    return db.session.get(User, user_id)


def get_by_login(login: str) -> User | None:
    """The local account signing in as login, or None."""
    return db.session.execute(select(User).where(User.login == login)).scalar_one_or_none()


def _check_login(login: str) -> str:
    login = login.strip()
    if not 1 <= len(login) <= 64 or any(c not in LOGIN_CHARS for c in login):
        raise UsageError("a user name is 1 to 64 letters, digits or _ . - @")
    return login


def create_local_user(*, login: str, role: Role | str, password: str, actor: str = "cli",
                      open_id: str | None = None) -> User:
    """Create (or reset) the local account login with role and password; audited."""
    login, role = _check_login(login), Role(role)
    problem = passwords.weakness(password)
    if problem:
        raise UsageError(problem)
    user = get_by_login(login)
    created = user is None
    if open_id:
        holder = db.session.scalar(select(User).where(User.open_id == open_id))
        if holder is not None and holder is not user:
            what = f"the account {holder.login}" if holder.login else f"{holder.name} ({holder.source})"
            raise UsageError(f"open_id {open_id} already belongs to {what}; pick another or leave --open-id out")
    if user is None:
        user = User(login=login, name=login, source="local", open_id=open_id)
        db.session.add(user)
    elif open_id:
        user.open_id = open_id
    user.role, user.password_hash = role, passwords.hash_password(password)
    user.session_secret = new_session_secret()  # a reset or a role change ends the account's sessions
    db.session.commit()
    audit.record(actor=actor, action="user.create" if created else "user.update", target=f"user:{login}",
                 details={"role": str(role), "open_id": open_id})
    return user


def _keys(login: str, client: Client) -> tuple[str, str]:
    return f"account:{login.lower()}"[:160], f"ip:{client.ip}"[:160]


def sign_in(*, login: str, password: str, client: Client, now: datetime | None = None,
            known_device_of: int | None = None) -> User:
    """The account when login and password match and nothing is locked; SignInRefused otherwise.

    The client address is locked for SIGNIN_LOCKOUT after SIGNIN_MAX_FAILURES failures, whoever it tried.
    The account backs off progressively (SIGNIN_ACCOUNT_BACKOFF doubling up to SIGNIN_ACCOUNT_LOCKOUT_MAX)
    and, while it does, refuses every browser except one that signed in to it before (known_device_of is
    the account id that browser's device cookie names): a stranger cannot lock the owner out, and the
    owner's own browser is still held to the per-address limit.
    """
    now = now or utcnow()
    config = current_app.config
    login = login.strip()[:64]
    account_key, ip_key = _keys(login, client)
    refused = SignInRefused("sign-in refused", user_message="Wrong user name or password.")
    user = get_by_login(login) if login else None
    known_device = user is not None and known_device_of == user.id
    lock = throttle.locked_until([ip_key] if known_device else [account_key, ip_key], now)
    if lock is not None:
        _audit_failure(login, client, "locked")
        raise SignInRefused("locked", user_message="Too many failed sign-ins: try again later.")
    if user is None or not passwords.check_password(user.password_hash, password):
        caused = throttle.fail([ip_key], limit=config["SIGNIN_MAX_FAILURES"], lockout=config["SIGNIN_LOCKOUT"],
                               now=now)
        backoff = throttle.fail_progressive(
            account_key, limit=config["SIGNIN_MAX_FAILURES"], base=config["SIGNIN_ACCOUNT_BACKOFF"],
            cap=config["SIGNIN_ACCOUNT_LOCKOUT_MAX"], forget_after=config["SIGNIN_LOCKOUT"], now=now)
        db.session.commit()
        _audit_failure(login, client, "bad credentials", locked_until=max((t for t in (caused, backoff) if t),
                                                                           default=None))
        raise refused
    throttle.clear([account_key])
    if passwords.needs_rehash(user.password_hash or ""):
        user.password_hash = passwords.hash_password(password)
    user.last_sign_in_at = now
    db.session.commit()
    audit.record(actor=user.actor, action="web.sign_in", target=f"user:{user.login}",
                 details={"ip": client.ip, "user_agent": client.user_agent[:200], "known_device": known_device})
    return user


def _audit_failure(login: str, client: Client, reason: str, locked_until: datetime | None = None) -> None:
    details: dict[str, object] = {"ip": client.ip, "reason": reason, "user_agent": client.user_agent[:200]}
    if locked_until is not None:
        details["locked_until"] = locked_until.isoformat()
    logger.warning("sign-in refused", extra={"login": login, "ip": client.ip, "reason": reason})
    audit.record(actor=f"web:{login or '?'}", action="web.sign_in_failed", target=f"user:{login}", details=details)


def sign_out(*, user: User, client: Client) -> None:
    """End every session of this account (copied cookies included) and audit it."""
    db.session.execute(update(User).where(User.id == user.id).values(session_secret=new_session_secret()))
    db.session.commit()
    audit.record(actor=user.actor, action="web.sign_out", target=f"user:{user.login}", details={"ip": client.ip})


def list_local_users() -> list[User]:
    """Local accounts, by login."""
    return list(db.session.execute(select(User).where(User.login.is_not(None)).order_by(User.login)).scalars())
