"""API tokens on the web: your own (admins see everyone's), create one (shown once), revoke."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for

from app.errors import UsageError
from app.infra.db import db
from app.inventory.schema import Role
from app.users import tokens as tokens_service
from app.users.models import ApiToken, User
from app.gateway import governance as allowance_module
from app.inventory import get_inventory
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.admin.forms import ActionForm
from app.web.admin.views.common import actor, form_value, me
from app.web.queries.pages import paginate
from app.web.request_args import page_and_size


def _page(new_token: str | None = None) -> str:
    """The token list (yours, or everyone's for an admin), a page at a time."""
    user = me()
    login = None if Role(user.role).at_least(Role.ADMIN) else user.login
    page = paginate(tokens_service.tokens_query(login), *page_and_size(), scalars=False)
    return render_template("admin/tokens.html", page=page, form=ActionForm(), new_token=new_token, allowance_of=_allowance)


def _allowance(user: User) -> allowance_module.Allowance:
    """The AI gateway limits that apply to user (defaults, then role, then user overrides)."""
    names = tuple(n for n in (user.login, user.open_id) if n)
    return allowance_module.allowance(get_inventory().gateway, role=str(user.role), names=names)


@bp.route("/tokens")
@requires(Role.USER)
def tokens() -> str:
    """Tokens: yours, or all of them for an admin."""
    return _page()


@bp.route("/tokens", methods=["POST"])
@requires(Role.USER)
def token_create() -> Any:
    """A new token for yourself, shown on this response only."""
    user = me()
    try:
        _row, token = tokens_service.create_token(login=user.login or "", name=form_value("name", "web"),
                                                  actor=user.actor)
    except UsageError as exc:
        flash(exc.user_message, "error")
        return redirect(url_for("admin.tokens"))
    return _page(new_token=token), 201


@bp.route("/tokens/<int(min=1, max=2147483647):token_id>/revoke", methods=["POST"])
@requires(Role.USER)
def token_revoke(token_id: int) -> Any:
    """Revoke one of your tokens (an admin may revoke anyone's)."""
    row = db.session.get(ApiToken, token_id)
    user = me()
    if row is None or (row.user_id != user.id and not Role(user.role).at_least(Role.ADMIN)):
        abort(404)
    try:
        tokens_service.revoke_token(token_id=token_id, actor=actor())
        flash(f"Token #{token_id} revoked.", "success")
    except tokens_service.TokenNotFound as exc:
        flash(exc.user_message, "error")
    return redirect(url_for("admin.tokens"))
