"""Accounts, sign-in and rows for the admin and API tests (shared by tests/web/api)."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask, g, has_app_context
from flask.testing import FlaskClient

from app.ai.models import LLMCall
from app.alerts.models import Alert
from app.automation.models import Execution, ExecutionHost, ExecutionKind, ExecutionStatus
from app.infra.db import db, utcnow
from app.inventory.schema import Role
from app.users import passwords
from app.users.models import User

PASSWORD = "correct horse battery staple"
ROLES = (Role.USER, Role.AUDITOR, Role.OPERATOR, Role.ADMIN)
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class IsolatedClient(FlaskClient):
    """A test client whose requests do not see the signed-in user of an earlier request.

    Tests keep an app context pushed, and requests reuse it, so Flask-Login's cached
    user in `g` (and Flask-WTF's CSRF token) would leak from one client to the next; a real server never shares `g`.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            g.pop("_login_user", None)
            g.pop("csrf_token", None)  # Flask-WTF caches the session's CSRF token in g as well
        return super().open(*args, **kwargs)


@lru_cache(maxsize=1)
def password_hash() -> str:
    """One Argon2 hash for the whole run (hashing is slow on purpose)."""
    return passwords.hash_password(PASSWORD)


def make_account(login: str, role: Role, *, open_id: str | None = None) -> User:
    """A local account with PASSWORD."""
    user = User(login=login, name=login, role=role, source="local", open_id=open_id, password_hash=password_hash())
    db.session.add(user)
    db.session.commit()
    return user


def csrf_token(client: Any, path: str = "/admin/login") -> str:
    """The CSRF token from a page's form (the session cookie keeps it valid)."""
    found = _CSRF.search(client.get(path).get_data(as_text=True))
    assert found, f"no csrf token on {path}"
    return found.group(1)


def sign_in(client: Any, login: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    """Post the sign-in form with a valid CSRF token."""
    token = csrf_token(client)
    return client.post("/admin/login", data={"login": login, "password": password, "csrf_token": token}, **kwargs)


def post(client: Any, path: str, data: dict[str, Any] | None = None, *, token_from: str = "/admin/", **kw: Any) -> Any:
    """POST a form with the CSRF token of the signed-in session."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_from)}, **kw)


def make_alert(alertname: str = "DiskFull", *, severity: str = "critical", status: str = "firing",
               host: str = "web-01", service: str | None = "nginx", summary: str = "disk almost full") -> Alert:
    """An alert row as ingest would leave it."""
    now = utcnow()
    fingerprint = f"fp-{alertname}-{host}-{now.timestamp()}"
    alert = Alert(fingerprint=fingerprint, open_key=fingerprint if status != "resolved" else None, source="generic",
                  alertname=alertname, severity=severity, status=status, host=host, service=service, summary=summary,
                  labels={"alertname": alertname, "host": host}, starts_at=now, last_seen=now, created_at=now)
    db.session.add(alert)
    db.session.commit()
    return alert


def make_execution(status: ExecutionStatus = ExecutionStatus.SUCCEEDED, *, target: str = "nginx",
                   output: str = "nginx restarted\nactive") -> Execution:
    """An execution with one host's output."""
    now = utcnow()
    execution = Execution(kind=ExecutionKind.RESTART, target=target, args={"service": target}, plan_digest="0" * 64,
                          requested_by="ou_bob", status=status, created_at=now, started_at=now)
    execution.hosts.append(ExecutionHost(host="web-01", step=0, step_name="restart", outcome="ok", exit_code=0,
                                         command=f"systemctl restart {target}", output=output, started_at=now))
    db.session.add(execution)
    db.session.commit()
    return execution


def make_call(*, model: str = "qwen3:32b", user: str = "ou_bob", duration_ms: float = 800.0, status: str = "ok",
              minutes_ago: int = 5, tokens: tuple[int, int] = (100, 40)) -> LLMCall:
    """One recorded model call."""
    call = LLMCall(timestamp=utcnow() - timedelta(minutes=minutes_ago), request_id=f"req-{utcnow().timestamp()}",
                   user_id=user, chat_id="oc_x", provider="ollama", model=model, input_tokens=tokens[0],
                   output_tokens=tokens[1], duration_ms=duration_ms, ttft_ms=duration_ms / 4, status=status,
                   error="boom" if status == "error" else None, tags=[])
    db.session.add(call)
    db.session.commit()
    return call


def feishu_start(client: Any, next_url: str = "") -> dict[str, list[str]]:
    """Begin "Sign in with Feishu": the query of the authorize URL the browser is sent to."""
    response = client.get("/admin/login/feishu" + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/open-apis/authen/v1/authorize"
    return parse_qs(location.query)


def feishu_sign_in(client: Any, oauth: Any, open_id: str, name: str) -> Any:
    """Sign in through the Feishu OAuth round trip (the fake server vouches for open_id)."""
    state = feishu_start(client)["state"][0]
    return client.get(f"/admin/login/feishu/callback?code={oauth.issue_code(open_id, name)}&state={state}")


# What the session check value of every account without a password used to be: sha256("|0")[:16].
OLD_CONSTANT_FINGERPRINT = hashlib.sha256(b"|0").hexdigest()[:16]


def forged_session_cookie(app: Flask, user_id: int, fingerprint: str = OLD_CONSTANT_FINGERPRINT) -> str:
    """A session cookie minted offline by someone who knows SECRET_KEY (as Flask-Login would write it)."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return serializer.dumps({"_user_id": f"{user_id}:{fingerprint}", "_fresh": True, "_permanent": True})
