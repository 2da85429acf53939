"""flask --app app ...: worker, chat, audit verify, users, tokens (db comes from Flask-Migrate).

Commands read the inventory on first use (see app.local_defaults for the defaults they share with run.sh).
"""
from __future__ import annotations

import functools
import sys
import time
from typing import TYPE_CHECKING, Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.errors import ConfigError
from app.infra.queue import QUEUES

if TYPE_CHECKING:
    from app.audit.service import Head

audit_cli = AppGroup("audit", help="The tamper-evident audit log.")
users_cli = AppGroup("users", help="People and their roles.")
tokens_cli = AppGroup("tokens", help="API tokens for /api/v1.")


def register(app: Flask) -> None:
    app.cli.add_command(worker)
    app.cli.add_command(chat)
    app.cli.add_command(audit_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    from app.automation.cli import automation_cli

    app.cli.add_command(automation_cli)
    from app.kb.cli import kb_cli

    app.cli.add_command(kb_cli)
    from app.feishu.longconn.cli import feishu_cli

    app.cli.add_command(feishu_cli)
    for command in app.cli.commands.values():
        _config_errors_as_usage(command)


def _missing_table(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


class ConfigProblem(click.ClickException):
    """A configuration error met by a command (the inventory is read on first use): no traceback, exit 2."""

    exit_code = 2

    def format_message(self) -> str:
        return f"configuration error:\n{self.message}"


def _config_errors_as_usage(command: click.Command) -> None:
    """A command (and its sub-commands) print a configuration error or an unmigrated database plainly, no traceback."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _config_errors_as_usage(sub)
    callback = command.callback
    if callback is None or getattr(callback, "_openclaw_wrapped", False):
        return

    @functools.wraps(callback)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except ConfigError as exc:
            raise ConfigProblem(str(exc)) from None
        except (OperationalError, ProgrammingError) as exc:
            if not _missing_table(exc):
                raise
            raise click.ClickException(
                "the database has no tables yet: run `.venv/bin/flask --app app db upgrade` "
                "(scripts/run.sh does it) first") from None

    wrapped._openclaw_wrapped = True  # type: ignore[attr-defined]
    command.callback = wrapped


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Run the jobs queued now, then exit.")
@click.option("--no-scheduler", is_flag=True, help="Do not run periodic jobs (sweeps) in this worker.")
@click.option(
    "--queues", default=",".join(QUEUES), show_default=True,
    help="Queues to take jobs from, in priority order; long deploys and runbooks use 'automation'.",
)
def worker(burst: bool, no_scheduler: bool, queues: str) -> None:
    """Run a background worker: RQ jobs from REDIS_URL plus the periodic scheduler."""
    from app import worker as background
    from app.users.service import sync_from_inventory

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: embedded mode runs jobs inside scripts/run.sh")
    sync_from_inventory()
    names = tuple(name.strip() for name in queues.split(",") if name.strip())
    unknown = sorted(set(names) - set(QUEUES))
    if not names or unknown:
        raise click.BadParameter(f"unknown queue(s) {unknown}; choose from {', '.join(QUEUES)}", param_hint="--queues")
    background.run(app, burst=burst, with_scheduler=not no_scheduler, queues=names)


@click.command("chat")
@with_appcontext
@click.option("--as", "open_id", required=True, help="The Feishu open_id to speak as, e.g. ou_alice.")
@click.option("--chat-id", default="console", show_default=True, help="The chat to pretend to be in.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the reply.")
@click.option("--verbose", is_flag=True, help="Show the JSON log lines too (on stderr).")
@click.option("--json", "as_json", is_flag=True, help="Print cards as their raw Feishu JSON instead of text.")
@click.argument("text")
def chat(open_id: str, chat_id: str, timeout: float, verbose: bool, as_json: bool, text: str) -> None:
    """Send TEXT through the router as OPEN_ID and print the reply (console delivery, no Feishu).

    Cards print as readable text (title, lines, buttons as [Approve]); --json prints them raw.
    """
    import logging

    if not verbose:
        logging.getLogger().setLevel(logging.WARNING)
    from app.inbox import console
    from app.inbox.models import EventStatus
    from app.infra.db import db
    from app.infra.queue import InProcessBackend, get_backend
    from app.inventory import get_inventory

    get_inventory()  # a bad inventory is a configuration error here, not a failed message
    event_pk = console.submit(open_id=open_id, text=text, chat_id=chat_id)
    backend = get_backend()
    if isinstance(backend, InProcessBackend):
        backend.wait_idle(timeout)
    deadline = time.monotonic() + timeout
    while (talk := console.conversation(event_pk)) is not None and not talk.finished:
        if time.monotonic() >= deadline:
            raise click.ClickException(
                f"no reply within {timeout:g}s; is a worker running (flask --app app worker)?"
            )
        db.session.expire_all()
        time.sleep(0.05)
    assert talk is not None
    if talk.event.status in (EventStatus.FAILED, EventStatus.DEAD):
        raise click.ClickException(f"processing failed: {talk.event.last_error}")
    import json

    from app.inbox.card_text import card_text

    for reply in talk.replies:
        if reply.text:
            click.echo(reply.text)
        if reply.card:
            click.echo(json.dumps(reply.card, ensure_ascii=False, indent=2) if as_json else card_text(reply.card))


def _head_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Head | None:
    from app.audit.service import Head

    if value is None:
        return None
    try:
        return Head.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@audit_cli.command("verify")
@click.option("--expect-head", "expected", metavar="SEQ:HASH", callback=_head_option,
              help="A head published earlier (the 'audit head' log line or `audit head`): fail if the log "
                   "no longer holds it, i.e. the newest records were deleted or rewritten.")
def audit_verify(expected: Head | None) -> None:
    """Check the audit chain; exit 1 and name the first broken record."""
    from app.audit.service import check_head, verify
    from app.infra import metrics

    report = verify()
    metrics.AUDIT_VERIFICATIONS.labels(result="ok" if report.ok else "broken").inc()
    if not report.ok:
        click.echo(
            f"audit chain BROKEN at record #{report.broken_seq} (id {report.broken_id}): {report.reason}; "
            f"{report.checked} records before it verified",
            err=True,
        )
        sys.exit(1)
    problem = check_head(expected) if expected is not None else None
    if problem:
        click.echo(f"audit chain TRUNCATED: {problem}; {report.checked} records verified", err=True)
        sys.exit(1)
    suffix = f", including published head #{expected.seq}" if expected is not None else ""
    click.echo(f"audit chain ok: {report.checked} records verified{suffix}")


@audit_cli.command("head")
def audit_head() -> None:
    """Print the newest record as SEQ:HASH, to keep somewhere the database cannot reach."""
    from app.audit.service import current_head

    head = current_head()
    click.echo(str(head) if head else "audit log is empty")


@users_cli.command("sync")
def users_sync() -> None:
    """Copy the inventory's users and roles into the database."""
    from app.users.service import sync_from_inventory

    click.echo(f"{sync_from_inventory()} users changed")


@users_cli.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["user", "auditor", "operator", "admin"]),
              help="What the account may see and do on the admin web and the API.")
@click.option("--password", help="The password (prompted for, hidden, when not given).")
@click.option("--open-id", help="The person's Feishu open_id, if they have one (console default, audit names).")
def users_create(name: str, role: str, password: str | None, open_id: str | None) -> None:
    """Create an admin-web account NAME (or reset its role and password)."""
    from app.errors import UsageError
    from app.users.accounts import create_local_user

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_local_user(login=name, role=role, password=password, open_id=open_id)
    except UsageError as exc:
        raise click.ClickException(exc.user_message) from None
    click.echo(f"account {user.login} ({user.role}) ready")


@tokens_cli.command("create")
@click.argument("name")
@click.option("--label", default="cli", show_default=True, help="What the token is for (the client name in usage).")
@click.option("--rate", type=click.IntRange(min=0), help="AI gateway: requests per minute for this token (0: unlimited).")
@click.option("--tokens-per-day", type=click.IntRange(min=0), help="AI gateway: model tokens per UTC day for this token.")
@click.option("--concurrency", type=click.IntRange(min=0), help="AI gateway: requests in flight at once for this token.")
def tokens_create(name: str, label: str, rate: int | None, tokens_per_day: int | None, concurrency: int | None) -> None:
    """Print a new API token for the account NAME; it is shown only this once.

    The token works on /api/v1 and on the AI gateway (/v1/chat/completions, /api/chat), where
    its owner's limits apply and, when given, this token's own.
    """
    from app.errors import UsageError
    from app.users.tokens import create_token

    try:
        row, token = create_token(login=name, name=label, rate_per_minute=rate, tokens_per_day=tokens_per_day,
                                  concurrency=concurrency)
    except UsageError as exc:
        raise click.ClickException(exc.user_message) from None
    click.echo(token)
    click.echo(f"token #{row.id} for {name}: store it now, it cannot be shown again", err=True)


@tokens_cli.command("list")
@click.argument("name", required=False)
def tokens_list(name: str | None) -> None:
    """List API tokens (prefix, owner, last use, the token's own gateway limits), optionally of one account."""
    from app.users.tokens import list_tokens

    for token, user in list_tokens(name):
        state = "revoked" if token.revoked_at else "active"
        used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
        own = [f"{label} {value}" for label, value in (("rate", token.rate_per_minute), ("tokens/day", token.tokens_per_day),
                                                        ("concurrency", token.concurrency)) if value is not None]
        limits = f"\tlimits: {', '.join(own)}" if own else ""
        click.echo(f"#{token.id}\t{user.login}\t{token.name}\t{token.prefix}…\t{state}\tlast used {used}{limits}")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke API token TOKEN_ID at once."""
    from app.users.tokens import TokenNotFound, revoke_token

    try:
        revoke_token(token_id=token_id, actor="cli")
    except TokenNotFound as exc:
        raise click.ClickException(exc.user_message) from None
    click.echo(f"token #{token_id} revoked")
