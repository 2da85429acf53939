"""Sign-in for /admin: Flask-Login sessions, CSRF on every unsafe request, @requires(Role.X) on every view."""
from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from app.inventory.schema import Role
from app.users import accounts, feishu_login
from app.users.accounts import Client, SignInRefused
from app.users.models import User
from app.users.service import still_entitled
from app.web.admin import bp, devices
from app.web.admin.forms import SignInForm
from app.web.inputs import carries_nul

F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
login_manager.login_view = "admin.sign_in"
login_manager.login_message = "Sign in to continue."
login_manager.session_protection = "basic"
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Bind the session manager and CSRF to app (CSRF is enforced by this blueprint only)."""
    login_manager.init_app(app)
    csrf.init_app(app)


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    """The account a session names, read fresh on every request; None (signed out) when the account is
    gone, its session secret was rotated (sign-out, password or role change), or the inventory no longer
    gives it the role it signed in with."""
    user_id, _, fingerprint = session_id.partition(":")
    user = accounts.get_user(int(user_id)) if user_id.isdigit() else None
    if user is None or not (user.password_hash or user.open_id):
        return None
    if not fingerprint or not hmac.compare_digest(user.session_fingerprint.encode(),
                                                  fingerprint.encode("utf-8", "surrogatepass")):
        return None
    if not still_entitled(user):
        return None
    return user


def requires(role: Role) -> Callable[[F], F]:
    """Allow the view to signed-in accounts of at least role; others get the sign-in page or 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not Role(current_user.role).at_least(role):
                abort(403, description=f"This needs the {role} role.")
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


def public(view: F) -> F:
    """Mark a view as open to people who have not signed in (the sign-in page)."""
    view.public = True  # type: ignore[attr-defined]
    return view


@bp.before_request
def _guard() -> Any:
    """Every /admin request needs a session (unless public); every unsafe one a CSRF token."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and not getattr(view, "public", False) and not current_user.is_authenticated:
        return login_manager.unauthorized()
    if request.method not in ("GET", "HEAD", "OPTIONS") and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    if carries_nul(request):
        abort(400, description="NUL characters are not accepted.")
    return None


def client() -> Client:
    """The client address (X-Forwarded-For's last hop when the peer is a trusted proxy) and agent."""
    ip = request.remote_addr or "?"
    forwarded = request.headers.get("X-Forwarded-For", "")
    trusted = current_app.config.get("TRUSTED_PROXIES", ())
    if forwarded and ("*" in trusted or ip in trusted):
        ip = forwarded.split(",")[-1].strip() or ip
    return Client(ip=ip[:64], user_agent=request.headers.get("User-Agent", "")[:200])


def _safe_next(target: str | None) -> str:
    """Only local /admin paths may be redirected to after sign-in."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/admin") and "\\" not in target:
            return target
    return url_for("admin.overview")


@bp.route("/login", methods=["GET", "POST"])
@public
def sign_in() -> Any:
    """The sign-in form; on success a fresh session."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = SignInForm()
    if form.validate_on_submit():
        login = form.login.data or ""
        try:
            user = accounts.sign_in(login=login, password=form.password.data or "", client=client(),
                                    known_device_of=devices.known_device_of(login))
        except SignInRefused as exc:
            flash(exc.user_message, "error")
            return render_template("admin/login.html", form=form, feishu=feishu_login.enabled()), 401
        return devices.remember(start_session(user, request.args.get("next")), user)
    return render_template("admin/login.html", form=form, feishu=feishu_login.enabled())


def start_session(user: User, next_url: str | None) -> Any:
    """A fresh session for user (no fixation), then on to next_url when it is a local /admin page."""
    target = _safe_next(next_url)
    session.clear()
    login_user(user)
    session.permanent = True
    return redirect(target)


@bp.route("/logout", methods=["POST"])
@requires(Role.USER)
def sign_out() -> Any:
    """End the session (POST with a CSRF token, so no page can sign a person out)."""
    accounts.sign_out(user=current_user, client=client())
    logout_user()
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("admin.sign_in"))
