"""Sign-in: sessions, cookie flags, lockout, sign-out, audit records, the CLI accounts and tokens."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.infra.db import db
from app.inventory.schema import Role
from app.users.models import ApiToken, User
from tests.web.admin.helpers import PASSWORD, IsolatedClient, csrf_token, make_account, post, sign_in

pytestmark = pytest.mark.both_databases  # PostgreSQL + Redis, and SQLite in embedded mode


def actions(action: str) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def test_pages_redirect_to_sign_in_until_signed_in(app: Flask, accounts: dict[Role, User]) -> None:
    client = app.test_client()
    response = client.get("/admin/alerts")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")
    assert sign_in(client, "user").headers["Location"] == "/admin/"
    assert client.get("/admin/alerts").status_code == 200


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(app: Flask, accounts: dict[Role, User]) -> None:
    client = app.test_client()
    token = csrf_token(client)
    ok = client.post("/admin/login?next=/admin/kb", data={"login": "user", "password": PASSWORD, "csrf_token": token})
    assert ok.headers["Location"] == "/admin/kb"
    other = app.test_client()
    token = csrf_token(other)
    evil = other.post("/admin/login?next=https://evil.example/admin", data={
        "login": "user", "password": PASSWORD, "csrf_token": token})
    assert evil.headers["Location"] == "/admin/"


def test_session_cookie_is_httponly_and_samesite_lax(app: Flask, accounts: dict[Role, User]) -> None:
    response = sign_in(app.test_client(), "user")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http in the tests


def test_session_cookie_is_secure_behind_https(make_app: Any) -> None:
    https_app = make_app(PUBLIC_URL="https://ops.example.com")
    with https_app.app_context():
        make_account("sec", Role.USER)
        response = sign_in(https_app.test_client(), "sec")
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_wrong_password_is_refused_and_audited(app: Flask, accounts: dict[Role, User]) -> None:
    client = app.test_client()
    response = sign_in(client, "user", "not the password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    failed = actions("web.sign_in_failed")
    assert [e.target for e in failed] == ["user:user"]
    assert failed[0].details["reason"] == "bad credentials"


def test_sign_in_and_out_are_audited(app: Flask, accounts: dict[Role, User]) -> None:
    client = app.test_client()
    sign_in(client, "operator")
    assert [e.actor for e in actions("web.sign_in")] == ["web:operator"]
    response = post(client, "/admin/logout")
    assert response.status_code == 302
    assert [e.actor for e in actions("web.sign_out")] == ["web:operator"]
    assert client.get("/admin/").status_code == 302


def test_five_failures_lock_the_account_even_for_the_right_password(make_app: Any) -> None:
    slow = make_app(SIGNIN_ACCOUNT_BACKOFF="600")  # a back-off long enough not to end during the test
    slow.test_client_class = IsolatedClient
    with slow.app_context():
        make_account("admin", Role.ADMIN)
        make_account("operator", Role.OPERATOR)
        for attempt in range(5):
            assert sign_in(slow.test_client(), "admin", f"wrong {attempt}").status_code == 401
        locked = sign_in(slow.test_client(), "admin")
        assert locked.status_code == 401
        assert "Too many failed sign-ins" in locked.get_data(as_text=True)
        assert actions("web.sign_in_failed")[-1].details["reason"] == "locked"
        # The address is locked too; from elsewhere, other accounts still sign in and this one still may not.
        elsewhere = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
        assert sign_in(slow.test_client(), "operator").status_code == 401
        assert sign_in(slow.test_client(), "operator", environ_base=elsewhere).status_code == 302
        assert sign_in(slow.test_client(), "admin", environ_base=elsewhere).status_code == 401
        db.session.remove()


def test_the_lock_ends_after_the_lockout_period(make_app: Any) -> None:
    from datetime import timedelta

    from app.users import throttle
    from app.users.models import SignInThrottle

    quick = make_app(SIGNIN_LOCKOUT="60")
    quick.test_client_class = IsolatedClient
    with quick.app_context():
        make_account("pat", Role.USER)
        for _ in range(5):
            sign_in(quick.test_client(), "pat", "nope")
        row = db.session.get(SignInThrottle, "account:pat")
        assert row.locked_until is not None
        assert throttle.locked_until(["account:pat"], row.locked_until + timedelta(seconds=1)) is None
        for locked in db.session.execute(select(SignInThrottle)).scalars():  # the account and the address
            locked.locked_until = locked.locked_until - timedelta(seconds=61)
        db.session.commit()
        assert sign_in(quick.test_client(), "pat").status_code == 302


def test_five_failures_from_one_address_lock_that_address(app: Flask, accounts: dict[Role, User]) -> None:
    attacker = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    for name in ("nobody1", "nobody2", "nobody3", "nobody4", "nobody5"):
        assert sign_in(app.test_client(), name, "guess", environ_base=attacker).status_code == 401
    assert sign_in(app.test_client(), "user", environ_base=attacker).status_code == 401
    elsewhere = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    assert sign_in(app.test_client(), "user", environ_base=elsewhere).status_code == 302


def test_users_create_prompts_for_the_password_and_the_account_signs_in(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "dora", "--role", "operator"],
                           input="a long enough secret\na long enough secret\n")
    assert result.exit_code == 0, result.output
    user = db.session.execute(select(User).where(User.login == "dora")).scalar_one()
    assert user.role == "operator" and user.password_hash.startswith("$argon2id$")
    assert "a long enough secret" not in user.password_hash
    assert sign_in(app.test_client(), "dora", "a long enough secret").status_code == 302
    weak = runner.invoke(args=["users", "create", "eve", "--role", "user", "--password", "short"])
    assert weak.exit_code != 0 and "at least" in weak.output


def test_tokens_create_prints_a_token_once_and_stores_only_its_hash(app: Flask, accounts: dict[Role, User]) -> None:
    result = app.test_cli_runner().invoke(args=["tokens", "create", "auditor"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[0]
    assert token.startswith("oct_") and len(token) > 40
    row = db.session.execute(select(ApiToken)).scalar_one()
    assert token not in (row.token_hash, row.prefix)
    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.get_json()["role"] == "auditor"
    unknown = app.test_cli_runner().invoke(args=["tokens", "create", "nobody"])
    assert unknown.exit_code != 0


def test_resetting_a_password_signs_out_every_session_of_that_account(
    app: Flask, accounts: dict[Role, User]
) -> None:
    client = app.test_client()
    sign_in(client, "operator")
    assert client.get("/admin/").status_code == 200
    result = app.test_cli_runner().invoke(args=["users", "create", "operator", "--role", "operator",
                                                "--password", "a brand new secret"])
    assert result.exit_code == 0, result.output
    assert client.get("/admin/").status_code == 302
    assert sign_in(app.test_client(), "operator", "a brand new secret").status_code == 302


def test_a_role_change_applies_to_the_next_request(app: Flask, accounts: dict[Role, User]) -> None:
    client = app.test_client()
    sign_in(client, "operator")
    assert client.get("/admin/executions").status_code == 200
    accounts[Role.OPERATOR].role = Role.USER
    db.session.commit()
    assert client.get("/admin/executions").status_code == 403


def test_forwarded_addresses_count_only_from_trusted_proxies(make_app: Any) -> None:
    from app.users.models import SignInThrottle

    assert make_app(FORWARDED_ALLOW_IPS="*").config["TRUSTED_PROXIES"] == ("*",)  # gunicorn's setting is the default
    strict = make_app(TRUSTED_PROXIES="10.9.9.9")
    strict.test_client_class = IsolatedClient
    with strict.app_context():
        spoofed = {"REMOTE_ADDR": "192.0.2.50", "HTTP_X_FORWARDED_FOR": "203.0.113.1"}
        sign_in(strict.test_client(), "ghost", "x", environ_base=spoofed)
        via_proxy = {"REMOTE_ADDR": "10.9.9.9", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 203.0.113.2"}
        sign_in(strict.test_client(), "ghost", "x", environ_base=via_proxy)
        keys = {row.key for row in db.session.execute(select(SignInThrottle)).scalars()}
    assert keys == {"account:ghost", "ip:192.0.2.50", "ip:203.0.113.2"}


def test_concurrent_failures_are_all_counted(app: Flask, accounts: dict[Role, User]) -> None:
    import threading

    from app.users import throttle
    from app.users.models import SignInThrottle

    def fail_once() -> None:
        with app.app_context():
            throttle.fail(["account:racer"], limit=50, lockout=900)
            db.session.commit()

    threads = [threading.Thread(target=fail_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    assert db.session.get(SignInThrottle, "account:racer").failures == 8


def test_signing_out_ends_copies_of_the_session_cookie_too(app: Flask, accounts: dict[Role, User]) -> None:
    client = app.test_client()
    sign_in(client, "auditor")
    stolen = client.get_cookie("session").value
    assert post(client, "/admin/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/admin/audit").status_code == 302


# -- per-account back-off: a stranger cannot lock the owner out ------------------------------------


def _from(n: int) -> dict[str, str]:
    return {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": f"203.0.113.{n}"}


def _account_lock_seconds(login: str) -> float:
    from app.infra.db import utcnow
    from app.users.models import SignInThrottle

    db.session.expire_all()
    row = db.session.get(SignInThrottle, f"account:{login}")
    assert row is not None and row.locked_until is not None
    return (row.locked_until - utcnow()).total_seconds()


def test_a_stranger_guessing_from_many_addresses_locks_the_account_for_seconds_not_minutes(
    app: Flask, accounts: dict[Role, User]
) -> None:
    from datetime import timedelta

    from app.users.models import SignInThrottle

    for n in range(5):  # one guess from each of five addresses: no address reaches its own limit
        assert sign_in(app.test_client(), "admin", "guess", environ_base=_from(n)).status_code == 401
    assert 0 < _account_lock_seconds("admin") <= 2  # SIGNIN_ACCOUNT_BACKOFF, not SIGNIN_LOCKOUT (900 s)
    row = db.session.get(SignInThrottle, "account:admin")
    row.locked_until -= timedelta(seconds=3)  # the back-off has passed
    db.session.commit()
    assert sign_in(app.test_client(), "admin", environ_base=_from(99)).status_code == 302
    assert db.session.get(SignInThrottle, "account:admin", populate_existing=True) is None  # forgotten


def test_the_account_back_off_doubles_with_each_failure_and_is_capped(app: Flask) -> None:
    from datetime import timedelta

    from app.infra.db import utcnow
    from app.users import throttle

    now = utcnow()
    seen = []
    for n in range(12):
        lock = throttle.fail_progressive("account:target", limit=5, base=2, cap=300, forget_after=900,
                                         now=now + timedelta(seconds=n))
        seen.append(None if lock is None else round((lock - (now + timedelta(seconds=n))).total_seconds()))
    db.session.commit()
    assert seen == [None, None, None, None, 2, 4, 8, 16, 32, 64, 128, 256]
    assert throttle.backoff_seconds(13, limit=5, base=2, cap=300) == 300
    assert throttle.backoff_seconds(10**6, limit=5, base=2, cap=300) == 300
    # Quiet for SIGNIN_LOCKOUT after the last lock ended: the run is forgotten.
    later = now + timedelta(seconds=12 + 256 + 900)
    assert throttle.fail_progressive("account:target", limit=5, base=2, cap=300, forget_after=900, now=later) is None


def test_the_owners_known_browser_signs_in_during_a_back_off_that_holds_everyone_else(make_app: Any) -> None:
    slow = make_app(SIGNIN_ACCOUNT_BACKOFF="600", SIGNIN_ACCOUNT_LOCKOUT_MAX="900")
    slow.test_client_class = IsolatedClient
    with slow.app_context():
        make_account("admin", Role.ADMIN)
        make_account("operator", Role.OPERATOR)
        owner = slow.test_client()
        assert sign_in(owner, "admin", environ_base=_from(50)).status_code == 302
        assert owner.get_cookie("openclaw_device", path="/admin") is not None
        assert post(owner, "/admin/logout").status_code == 302
        other_account = slow.test_client()
        assert sign_in(other_account, "operator", environ_base=_from(51)).status_code == 302
        assert post(other_account, "/admin/logout").status_code == 302

        for n in range(5):
            sign_in(slow.test_client(), "admin", "guess", environ_base=_from(n))
        assert _account_lock_seconds("admin") > 500
        assert sign_in(slow.test_client(), "admin", environ_base=_from(60)).status_code == 401  # a new browser waits
        assert sign_in(other_account, "admin", environ_base=_from(51)).status_code == 401  # its cookie is not admin's
        forged = slow.test_client()
        forged.set_cookie("openclaw_device", "eyJ1IjoxfQ.forged.sig", path="/admin")
        assert sign_in(forged, "admin", environ_base=_from(61)).status_code == 401
        assert sign_in(owner, "admin", "wrong", environ_base=_from(50)).status_code == 401  # still a password check
        assert sign_in(owner, "admin", environ_base=_from(50)).status_code == 302  # the owner's browser gets in
        record = actions("web.sign_in")[-1]
        assert record.details["known_device"] is True
        db.session.remove()


def test_a_known_browser_is_still_held_to_the_per_address_limit(make_app: Any) -> None:
    slow = make_app(SIGNIN_ACCOUNT_BACKOFF="600")
    slow.test_client_class = IsolatedClient
    with slow.app_context():
        make_account("admin", Role.ADMIN)
        owner = slow.test_client()
        assert sign_in(owner, "admin", environ_base=_from(70)).status_code == 302
        assert post(owner, "/admin/logout").status_code == 302
        for n in range(5):  # from the owner's own address
            sign_in(slow.test_client(), f"nobody{n}", "guess", environ_base=_from(70))
        assert sign_in(owner, "admin", environ_base=_from(70)).status_code == 401
        db.session.remove()
