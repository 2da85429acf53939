"""The console: send text through the same inbox and router as Feishu; see the replies.

Read-only commands and questions run as the chosen person; commands that change something run as the
signed-in account (router.route), so the console cannot be used to approve one's own request.
"""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app.errors import UsageError
from app.inbox import console as console_service
from app.infra.db import db
from app.inventory import get_inventory
from app.inventory.schema import Role
from app.users.models import User
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.admin.cards import render_card
from app.web.admin.forms import ConsoleForm
from app.web.admin.views.common import actor, me


def _people() -> list[tuple[str, str]]:
    """Everyone the console may speak as: inventory users, then local accounts with an open_id."""
    choices = [(u.open_id, f"{u.name} ({u.role}) {u.open_id}") for u in get_inventory().users]
    known = {value for value, _ in choices}
    for user in db.session.execute(select(User).where(User.open_id.is_not(None))).scalars():
        if user.open_id and user.open_id not in known:
            choices.append((user.open_id, f"{user.name} ({user.role}) {user.open_id}"))
            known.add(user.open_id)
    return choices


def _form() -> ConsoleForm:
    form = ConsoleForm()
    form.open_id.choices = _people()
    if request.method == "GET" and me().open_id:
        form.open_id.data = me().open_id
    return form


@bp.route("/console", methods=["GET"])
@requires(Role.ADMIN)
def console() -> str:
    """The form, and the conversation for ?event=ID."""
    conversation, form = None, _form()
    if request.args.get("event", "").isdigit():
        conversation = console_service.conversation(int(request.args["event"]))
        if conversation is not None:  # keep talking as the same person
            form.open_id.data = conversation.event.payload.get("open_id")
    return render_template("admin/console.html", form=form, conversation=conversation, render_card=render_card)


@bp.route("/console", methods=["POST"])
@requires(Role.ADMIN)
def console_send() -> Any:
    """Record the text as a console event and queue it; the page then follows its replies."""
    form = _form()
    if not form.validate_on_submit():
        flash("Pick someone from the list and type some text.", "error")
        return render_template("admin/console.html", form=form, conversation=None, render_card=render_card), 400
    try:
        event_pk = console_service.send(open_id=form.open_id.data, text=form.text.data or "", actor=actor(),
                                        sender_id=me().id)
    except UsageError as exc:
        flash(exc.user_message, "error")
        return redirect(url_for("admin.console"))
    return redirect(url_for("admin.console", event=event_pk))


@bp.route("/console/events/<id:event_id>")
@requires(Role.ADMIN)
def console_replies(event_id: int) -> Any:
    """The replies so far as an HTML fragment (the page polls it until processing finishes)."""
    conversation = console_service.conversation(event_id)
    if conversation is None:
        abort(404)
    html = render_template("admin/_conversation.html", conversation=conversation, render_card=render_card)
    return html, 200, {"X-Finished": "1" if conversation.finished else "0"}
