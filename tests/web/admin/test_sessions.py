"""Browser sessions: bound to a random per-account secret, re-checked against the account and inventory each request."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml
from flask import Flask
from sqlalchemy import select

from app.infra.db import db
from app.users.models import User
from app.users.service import sync_from_inventory
from tests.conftest import INVENTORY
from tests.web.admin.feishu_oauth import FakeFeishuOAuth
from tests.web.admin.helpers import IsolatedClient, feishu_sign_in, forged_session_cookie, post


def person(open_id: str) -> User:
    db.session.expire_all()
    return db.session.execute(select(User).where(User.open_id == open_id)).scalar_one()


def test_a_known_secret_key_does_not_mint_a_session_for_a_feishu_only_admin(feishu_app: Flask) -> None:
    sync_from_inventory()
    alice = person("ou_alice")  # admin in the inventory, no password: signs in with Feishu only
    assert alice.password_hash is None
    forged = feishu_app.test_client()
    forged.set_cookie("session", forged_session_cookie(feishu_app, alice.id))
    assert forged.get("/admin/console").status_code == 302  # to the sign-in page
    # The forger is not the problem: with the account's secret (which never leaves the database) it works.
    real = feishu_app.test_client()
    real.set_cookie("session", forged_session_cookie(feishu_app, alice.id, alice.session_fingerprint))
    assert real.get("/admin/console").status_code == 200


def test_every_account_gets_its_own_session_secret_and_sign_out_replaces_it(
    feishu_app: Flask, oauth: FakeFeishuOAuth
) -> None:
    sync_from_inventory()
    secrets = {u.open_id: u.session_secret for u in db.session.execute(select(User)).scalars()}
    assert len(secrets) == 3 and len(set(secrets.values())) == 3
    assert all(len(s) == 64 for s in secrets.values())
    client = feishu_app.test_client()
    assert feishu_sign_in(client, oauth, "ou_bob", "Bob").status_code == 302
    stolen = client.get_cookie("session").value
    assert post(client, "/admin/logout").status_code == 302
    assert person("ou_bob").session_secret != secrets["ou_bob"]
    replay = feishu_app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/admin/").status_code == 302


def _inventory_without(tmp_path: Path, open_id: str, *, role_of: dict[str, str] | None = None) -> str:
    data = yaml.safe_load(INVENTORY.read_text())
    data["users"] = [dict(u, role=(role_of or {}).get(u["open_id"], u["role"]))
                     for u in data["users"] if u["open_id"] != open_id]
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _restarted(make_app: Callable[..., Flask], oauth: FakeFeishuOAuth, inventory: str) -> Flask:
    """The same deployment (database, SECRET_KEY) started again with another inventory."""
    app = make_app(FEISHU_APP_ID="cli_oauth", FEISHU_APP_SECRET="oauth-secret", FEISHU_BASE_URL=oauth.url,
                   FEISHU_ACCOUNTS_URL=oauth.url, PUBLIC_URL="http://ops.example.test", OPENCLAW_CONFIG=inventory)
    app.test_client_class = IsolatedClient
    return app


def test_a_person_removed_from_the_inventory_loses_their_session_at_once(
    feishu_app: Flask, oauth: FakeFeishuOAuth, make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    client = feishu_app.test_client()
    assert feishu_sign_in(client, oauth, "ou_carol", "Carol").status_code == 302
    assert client.get("/admin/audit").status_code == 200
    cookie = client.get_cookie("session").value

    restarted = _restarted(make_app, oauth, _inventory_without(tmp_path, "ou_carol"))
    browser = restarted.test_client()
    browser.set_cookie("session", cookie)
    assert browser.get("/admin/audit").status_code == 302  # before any sync: the inventory decides
    assert browser.get("/admin/").status_code == 302
    with restarted.app_context():
        before = person("ou_carol").session_secret
        sync_from_inventory()
        after = person("ou_carol")
        assert after.role == "user" and after.session_secret != before
        again = restarted.test_client()
        assert feishu_sign_in(again, oauth, "ou_carol", "Carol").status_code == 302
        assert again.get("/admin/").status_code == 302  # no account here any more


def test_a_role_change_in_the_inventory_ends_the_session_and_the_next_sign_in_gets_the_new_role(
    feishu_app: Flask, oauth: FakeFeishuOAuth, make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    client = feishu_app.test_client()
    feishu_sign_in(client, oauth, "ou_bob", "Bob")
    assert client.get("/admin/executions").status_code == 200  # operator
    cookie = client.get_cookie("session").value

    demoted = _inventory_without(tmp_path, "nobody", role_of={"ou_bob": "user"})
    restarted = _restarted(make_app, oauth, demoted)
    browser = restarted.test_client()
    browser.set_cookie("session", cookie)
    assert browser.get("/admin/executions").status_code == 302  # signed out, not served as operator
    with restarted.app_context():
        before = person("ou_bob").session_secret
        assert sync_from_inventory() == 1
        assert person("ou_bob").session_secret != before  # the sync rotated it too
        fresh = restarted.test_client()
        feishu_sign_in(fresh, oauth, "ou_bob", "Bob")
        assert fresh.get("/admin/").status_code == 200
        assert fresh.get("/admin/executions").status_code == 403  # user now
