"""Sign in with Feishu: send the browser to Feishu's consent page, come back with a code, map it to a person."""
from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import abort, current_app, flash, redirect, request, session, url_for

from app.users import feishu_login
from app.users.feishu_login import FeishuSignInFailed
from app.web.admin import bp
from app.web.admin.auth import client, public, start_session

STATE_KEY, NEXT_KEY = "feishu_oauth_state", "feishu_oauth_next"


def _callback_url() -> str:
    return f"{current_app.config['PUBLIC_URL']}{url_for('admin.feishu_callback')}"


@bp.route("/login/feishu")
@public
def feishu_start() -> Any:
    """Remember a one-time state, then off to Feishu."""
    if not feishu_login.enabled():
        abort(404)
    state = secrets.token_urlsafe(24)
    session[STATE_KEY] = state
    session[NEXT_KEY] = request.args.get("next") or ""
    return redirect(feishu_login.authorize_url(state=state, redirect_uri=_callback_url()))


@bp.route("/login/feishu/callback")
@public
def feishu_callback() -> Any:
    """Check the state, learn the open_id from Feishu, sign that person in with their role."""
    if not feishu_login.enabled():
        abort(404)
    expected, given = session.pop(STATE_KEY, None), request.args.get("state", "")
    next_url = session.pop(NEXT_KEY, None)
    # Compared as bytes: compare_digest raises TypeError on str with non-ASCII characters.
    if not expected or not hmac.compare_digest(str(expected).encode("utf-8"), given.encode("utf-8", "surrogatepass")):
        abort(400, description="This sign-in link has expired; start again from the sign-in page.")
    code = request.args.get("code", "")
    if not code or len(code) > 512:
        flash("Feishu did not grant the sign-in.", "error")
        return redirect(url_for("admin.sign_in"))
    try:
        identity = feishu_login.identify(code=code, redirect_uri=_callback_url())
        user = feishu_login.sign_in(identity=identity, client=client())
    except FeishuSignInFailed as exc:
        flash(exc.user_message, "error")
        return redirect(url_for("admin.sign_in"))
    return start_session(user, next_url)
