"""API tokens: issued once, stored as SHA-256, revocable, last use remembered."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update

from app.audit import service as audit
from app.errors import BotError, UsageError
from app.infra.db import db, utcnow
from app.users.models import ApiToken, User

PREFIX = "oct_"
_TOUCH_EVERY = timedelta(seconds=60)  # last_used_at is written at most once a minute per token


class TokenNotFound(BotError):
    """No active token has that id."""


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(*, login: str, name: str = "cli", actor: str = "cli", rate_per_minute: int | None = None,
                 tokens_per_day: int | None = None, concurrency: int | None = None) -> tuple[ApiToken, str]:
    """A new token for the local account login: the row and the token text (shown once, never stored).

    rate_per_minute, tokens_per_day and concurrency limit this token alone on the AI gateway (0: unlimited).
    """
    for label, value in (("rate", rate_per_minute), ("tokens per day", tokens_per_day), ("concurrency", concurrency)):
        if value is not None and value < 0:
            raise UsageError(f"{label} must be 0 or more, got {value}")
    user = db.session.execute(select(User).where(User.login == login)).scalar_one_or_none()
    if user is None:
        raise UsageError(f"no local account {login!r}; create it with `users create`")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name.strip()[:64] or "cli", token_hash=digest(token), prefix=token[:10],
                   rate_per_minute=rate_per_minute, tokens_per_day=tokens_per_day, concurrency=concurrency)
    db.session.add(row)
    db.session.commit()
    audit.record(actor=actor, action="token.create", target=f"user:{login}",
                 details={"token_id": row.id, "name": row.name, "prefix": row.prefix, "rate_per_minute": rate_per_minute,
                          "tokens_per_day": tokens_per_day, "concurrency": concurrency})
    return row, token


def authenticate(token: str, now: datetime | None = None) -> tuple[ApiToken, User] | None:
    """The active token row and its account (its use noted), or None; one query, so revocation is immediate."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    now = now or utcnow()
    found = db.session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))
    ).one_or_none()
    if found is None:
        return None
    row, user = found
    last = row.last_used_at
    if last is None or now - last > _TOUCH_EVERY:
        db.session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        db.session.commit()
        row.last_used_at = now
    return row, user


def user_for(token: str, now: datetime | None = None) -> User | None:
    """The account an active token belongs to (and note its use), or None."""
    found = authenticate(token, now)
    return found[1] if found else None


def tokens_query(login: str | None = None) -> Select[tuple[ApiToken, User]]:
    """Tokens (active and revoked) with their owners, newest first; only login's when given."""
    query = select(ApiToken, User).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id.desc())
    return query.where(User.login == login) if login else query


def list_tokens(login: str | None = None) -> list[tuple[ApiToken, User]]:
    """Every token (of login, when given) with its owner, newest first."""
    return [(t, u) for t, u in db.session.execute(tokens_query(login)).all()]


def _announce_revocation(row: ApiToken) -> None:
    """Tell every gateway process (their token caches) that this token is gone."""
    from app.gateway.auth import forget
    from app.gateway.governance import REVOKED_TTL, get_governor, revoked_flag

    forget(row.token_hash)
    get_governor().store.flag(revoked_flag(row.id), REVOKED_TTL)


def revoke_token(*, token_id: int, actor: str) -> ApiToken:
    """Revoke an active token at once; TokenNotFound otherwise."""
    result = db.session.execute(
        update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    db.session.commit()
    if not result.rowcount:  # type: ignore[attr-defined]
        raise TokenNotFound(f"token {token_id} not active", user_message=f"No active token #{token_id}.")
    row = db.session.get_one(ApiToken, token_id, populate_existing=True)
    _announce_revocation(row)
    audit.record(actor=actor, action="token.revoke", target=f"token:{token_id}", details={"name": row.name})
    return row
