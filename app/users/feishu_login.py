"""Sign in with Feishu: the Open Platform's OAuth code flow, mapped to users and roles by open_id."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from flask import current_app
from sqlalchemy import select

from app.audit import service as audit
from app.errors import BotError
from app.infra.db import db, utcnow
from app.infra.http import make_session
from app.inventory import get_inventory
from app.users.accounts import Client
from app.users.models import User
from app.users.service import sync_from_inventory

logger = logging.getLogger(__name__)

TIMEOUT = (3.0, 10.0)


class FeishuSignInFailed(BotError):
    """Feishu did not confirm who is signing in, or that person has no account here."""


@dataclass(frozen=True)
class FeishuIdentity:
    """Who Feishu says signed in."""

    open_id: str
    name: str


def enabled() -> bool:
    """True when the bot app's credentials are configured."""
    return bool(current_app.config.get("FEISHU_APP_ID") and current_app.config.get("FEISHU_APP_SECRET"))


def authorize_url(*, state: str, redirect_uri: str) -> str:
    """Where to send the browser: Feishu's consent page, which comes back with ?code=&state=."""
    query = urlencode({"client_id": current_app.config["FEISHU_APP_ID"], "response_type": "code",
                       "redirect_uri": redirect_uri, "state": state})
    return f"{current_app.config['FEISHU_ACCOUNTS_URL']}/open-apis/authen/v1/authorize?{query}"


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or body.get("code", 0) != 0:
        logger.warning("feishu sign-in step failed", extra={"step": what, "status": response.status_code,
                                                            "code": body.get("code") if isinstance(body, dict) else None})
        raise FeishuSignInFailed(f"{what} failed", user_message="Feishu did not confirm the sign-in; try again.")
    return body


def identify(*, code: str, redirect_uri: str) -> FeishuIdentity:
    """Exchange the one-time code for a user token, then ask who it belongs to."""
    config, base = current_app.config, current_app.config["FEISHU_BASE_URL"]
    session = make_session()
    try:
        token = _json(session.post(f"{base}/open-apis/authen/v2/oauth/token", timeout=TIMEOUT, json={
            "grant_type": "authorization_code", "client_id": config["FEISHU_APP_ID"],
            "client_secret": config["FEISHU_APP_SECRET"], "code": code, "redirect_uri": redirect_uri,
        }), "token")
        access = token.get("access_token") or (token.get("data") or {}).get("access_token")
        if not access:
            raise FeishuSignInFailed("no access_token", user_message="Feishu did not confirm the sign-in; try again.")
        info = _json(session.get(f"{base}/open-apis/authen/v1/user_info", timeout=TIMEOUT,
                                 headers={"Authorization": f"Bearer {access}"}), "user_info")
    except requests.RequestException as exc:
        logger.warning("feishu sign-in unreachable", extra={"error": type(exc).__name__})
        raise FeishuSignInFailed("unreachable", user_message="Feishu cannot be reached; try again later.") from exc
    finally:
        session.close()
    data = info.get("data") or {}
    open_id = str(data.get("open_id") or "")
    if not open_id.startswith("ou_"):
        raise FeishuSignInFailed("no open_id", user_message="Feishu did not say who you are; try again.")
    return FeishuIdentity(open_id=open_id, name=str(data.get("name") or open_id)[:128])


def sign_in(*, identity: FeishuIdentity, client: Client) -> User:
    """The account for this open_id (a local one, else the inventory's); refused for anyone else; audited."""
    in_inventory = any(u.open_id == identity.open_id for u in get_inventory().users)
    if in_inventory:
        sync_from_inventory()  # the role this session gets is the inventory's as loaded now
    user = db.session.execute(select(User).where(User.open_id == identity.open_id)).scalar_one_or_none()
    if user is None or (user.source != "local" and not in_inventory):
        audit.record(actor=identity.open_id, action="web.sign_in_failed", target=f"user:{identity.open_id}",
                     details={"ip": client.ip, "reason": "no account", "method": "feishu"})
        raise FeishuSignInFailed("no account", user_message=(
            f"{identity.name} has no account here: ask an admin to add you to the inventory."))
    user.last_sign_in_at = utcnow()
    db.session.commit()
    audit.record(actor=user.actor, action="web.sign_in", target=f"user:{user.login or user.open_id}",
                 details={"ip": client.ip, "user_agent": client.user_agent[:200], "method": "feishu"})
    return user
