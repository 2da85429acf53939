"""route() and dispatch(): who may run what, usage on bad arguments, refusals audited, the console CLI."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.audit.models import AuditEvent
from app.chat import assistant, registry
from app.chat.args import Args, Param, positive_int
from app.chat.router import route
from app.chat.types import CommandContext, IncomingMessage, Reply, Role
from app.errors import BotError, UsageError
from app.infra.db import db
from tests.conftest import base_environ


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """The app on PostgreSQL (the router needs no Feishu), with an app context pushed."""
    application = make_app()
    with application.app_context():
        yield application
        db.session.remove()


@pytest.fixture
def commands() -> Iterator[Callable[..., str]]:
    """Register throwaway commands with a unique prefix; all removed after the test."""
    prefix = f"t{uuid.uuid4().hex[:6]}"
    names: list[str] = []

    def register(suffix: str, handler: Callable[[CommandContext, Args], Reply] | None = None, *,
                 role: Role = Role.USER, usage: str | None = None, params: tuple[Param, ...] = (),
                 options: tuple[Param, ...] = ()) -> str:
        name = f"{prefix}{suffix}"

        def default(ctx: CommandContext, args: Args) -> Reply:
            """A throwaway command."""
            return Reply.of_text(f"ran {name} {sorted(args.values.items())}")

        registry.command(name, usage=usage or f"/{name}", role=role, params=params, options=options)(
            handler or default)
        names.append(name)
        return name

    yield register
    for name in names:
        registry._commands.pop(name, None)


def say(text: str, open_id: str = "ou_bob", *, chat_type: str = "p2p", mentioned: bool = False) -> list[Reply]:
    message = IncomingMessage(
        event_id=f"ev-{uuid.uuid4().hex}", message_id=f"om_{uuid.uuid4().hex}", chat_id="oc_test",
        chat_type=chat_type, open_id=open_id, text=text, mentioned_bot=mentioned,
    )
    return route(message)


def say_one(text: str, open_id: str = "ou_bob") -> str:
    [reply] = say(text, open_id)
    assert reply.text is not None
    return reply.text


def audit_rows(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


# -- /help -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("open_id", "role", "visible"),
    [
        ("ou_stranger", "user", {"user"}),
        ("ou_carol", "auditor", {"user", "auditor"}),
        ("ou_bob", "operator", {"user", "auditor", "operator"}),
        ("ou_alice", "admin", {"user", "auditor", "operator", "admin"}),
    ],
)
def test_help_lists_only_the_commands_the_senders_role_allows(
    app: Flask, commands: Callable[..., str], open_id: str, role: str, visible: set[str],
) -> None:
    names = {level: commands(f"-{level}", role=Role(level)) for level in ("user", "auditor", "operator", "admin")}
    text = say_one("/help", open_id)
    assert f"({role})" in text
    assert "/help [command]" in text
    for level, name in names.items():
        assert (name in text) == (level in visible), f"{name} for {role}"


def test_help_shows_each_commands_usage_and_docstring_summary(app: Flask, commands: Callable[..., str]) -> None:
    def handler(ctx: CommandContext, args: Args) -> Reply:
        """Restart a thing.

        Longer text that is not part of /help.
        """
        return Reply.of_text("ok")

    name = commands("-restart", handler, usage="/x-restart SERVICE")
    text = say_one("/help")
    assert "/x-restart SERVICE - Restart a thing." in text
    assert "Longer text" not in text
    assert name  # registered


def test_help_help_explains_help_itself(app: Flask) -> None:
    text = say_one("/help help")
    assert text.startswith("/help: List the commands you may use")
    assert "Usage: /help [command]" in text


def test_help_for_a_command_the_sender_may_not_use_does_not_reveal_it(
    app: Flask, commands: Callable[..., str],
) -> None:
    name = commands("-admin", role=Role.ADMIN)
    assert "No command" in say_one(f"/help {name}", "ou_bob")
    assert f"/{name}" in say_one(f"/help /{name}", "ou_alice")


def test_help_for_an_unknown_command_says_so(app: Flask) -> None:
    assert "No command /nosuch" in say_one("/help nosuch")


# -- unknown commands, matching ----------------------------------------------------------------


def test_an_unknown_command_is_named_and_points_to_help(app: Flask) -> None:
    text = say_one("/frobnicate now")
    assert "Unknown command /frobnicate" in text
    assert "/help" in text


def test_a_lone_slash_is_an_unknown_command(app: Flask) -> None:
    assert "Unknown command" in say_one("/")


def test_command_names_are_matched_case_insensitively(app: Flask) -> None:
    assert "(operator)" in say_one("/HELP")


def test_the_longest_declared_name_wins(app: Flask, commands: Callable[..., str]) -> None:
    base = commands("")
    commands(" sub")
    assert f"ran {base} sub" in say_one(f"/{base} sub")
    assert say_one(f"/{base}").startswith(f"ran {base} ")


# -- arguments -------------------------------------------------------------------------------


@pytest.fixture
def logs_like(commands: Callable[..., str]) -> str:
    """A command shaped like /logs: SERVICE [LINES] [--host H]."""
    return commands(
        "-logs", usage="/logs-like SERVICE [LINES] [--host H]",
        params=(Param("service", pattern=r"[a-z][a-z0-9-]*"), Param("lines", required=False, convert=positive_int,
                                                                     default=50)),
        options=(Param("host"),),
    )


def test_well_formed_arguments_reach_the_handler_parsed(app: Flask, logs_like: str) -> None:
    text = say_one(f"/{logs_like} nginx 20 --host web-01")
    assert "('host', 'web-01')" in text
    assert "('lines', 20)" in text
    assert "('service', 'nginx')" in text
    assert "('lines', 50)" in say_one(f"/{logs_like} nginx --host=web-01")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ("", "missing service"),
        ("nginx ten", "lines"),
        ("nginx -3", "lines"),
        ("nginx 20 extra", "unexpected argument 'extra'"),
        ("nginx --port 80", "unknown option --port"),
        ("nginx --host", "--host needs a value"),
        ("NGINX;rm", "service"),
    ],
)
def test_bad_arguments_get_the_reason_and_the_usage_line(app: Flask, logs_like: str, args: str, reason: str) -> None:
    text = say_one(f"/{logs_like} {args}")
    assert reason in text
    assert text.splitlines()[-1] == "Usage: /logs-like SERVICE [LINES] [--host H]"


def test_quoted_words_are_one_argument(app: Flask, commands: Callable[..., str]) -> None:
    name = commands("-say", params=(Param("first"), Param("second")))
    text = say_one(f'/{name} "two words" \'and more\'')
    assert "('first', 'two words')" in text
    assert "('second', 'and more')" in text


def test_unbalanced_quotes_get_a_usage_error_and_run_nothing(app: Flask, commands: Callable[..., str]) -> None:
    runs: list[str] = []

    def handler(ctx: CommandContext, args: Args) -> Reply:
        """Records runs."""
        runs.append("ran")
        return Reply.of_text("ran")

    name = commands("-quote", handler, params=(Param("text", rest=True),))
    text = say_one(f'/{name} "unterminated')
    assert "cannot read the arguments" in text
    assert runs == []
    assert audit_rows("command.run") == []


def test_a_usage_error_raised_by_the_handler_gets_the_usage_line(app: Flask, commands: Callable[..., str]) -> None:
    def handler(ctx: CommandContext, args: Args) -> Reply:
        """Always unhappy with its arguments."""
        raise UsageError("that environment does not exist")

    name = commands("-strict", handler, usage="/strict ENV")
    assert say_one(f"/{name}") == "that environment does not exist\nUsage: /strict ENV"


def test_a_bot_error_raised_by_the_handler_becomes_its_user_message(app: Flask, commands: Callable[..., str]) -> None:
    def handler(ctx: CommandContext, args: Args) -> Reply:
        """Fails politely."""
        raise BotError("internal detail", user_message="nginx is not on web-01")

    name = commands("-fail", handler)
    assert say_one(f"/{name}") == "nginx is not on web-01"


# -- roles and audit -------------------------------------------------------------------------


def test_an_insufficient_role_is_refused_naming_the_role_needed_and_audited(
    app: Flask, commands: Callable[..., str],
) -> None:
    runs: list[str] = []

    def handler(ctx: CommandContext, args: Args) -> Reply:
        """Restarts things."""
        runs.append(ctx.open_id)
        return Reply.of_text("restarted")

    name = commands("-restart", handler, role=Role.OPERATOR)
    text = say_one(f"/{name} nginx", "ou_carol")
    assert "operator" in text
    assert "auditor" in text  # and says what the sender has
    assert runs == []
    [denied] = audit_rows("command.denied")
    assert (denied.actor, denied.target) == ("ou_carol", name)
    assert denied.details["needed"] == "operator"
    assert audit_rows("command.run") == []


def test_an_allowed_command_runs_and_is_audited_with_its_arguments(
    app: Flask, logs_like: str,
) -> None:
    say_one(f"/{logs_like} nginx 20", "ou_bob")
    [run] = audit_rows("command.run")
    assert (run.actor, run.target, run.chat_id) == ("ou_bob", logs_like, "oc_test")
    assert run.details["args"] == {"service": "nginx", "lines": 20, "host": None}


def test_an_unknown_sender_has_the_default_role(app: Flask, commands: Callable[..., str]) -> None:
    name = commands("-op", role=Role.OPERATOR)
    assert "(user)" in say_one("/help", "ou_somebody_new")
    assert "needs the operator role" in say_one(f"/{name}", "ou_somebody_new")


def test_an_admin_may_run_commands_of_every_lower_role(app: Flask, commands: Callable[..., str]) -> None:
    name = commands("-op", role=Role.OPERATOR)
    assert say_one(f"/{name}", "ou_alice").startswith("ran")


# -- routing -------------------------------------------------------------------------------------


@pytest.fixture
def assistant_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[CommandContext, str]]:
    """Replace the assistant hook with a recorder that answers "assistant: TEXT"."""
    calls: list[tuple[CommandContext, str]] = []

    def answer(ctx: CommandContext, text: str) -> Reply:
        calls.append((ctx, text))
        return Reply.of_text(f"assistant: {text}")

    monkeypatch.setattr(assistant, "answer", answer)
    return calls


def test_plain_text_goes_to_the_assistant_hook_with_the_senders_context(
    app: Flask, assistant_calls: list[tuple[CommandContext, str]],
) -> None:
    [reply] = say("why is nginx slow?", "ou_carol")
    assert reply.text == "assistant: why is nginx slow?"
    [(ctx, text)] = assistant_calls
    assert text == "why is nginx slow?"
    assert (ctx.open_id, ctx.role, ctx.chat_id) == ("ou_carol", Role.AUDITOR, "oc_test")
    assert audit_rows("command.run") == []


def test_commands_do_not_reach_the_assistant(app: Flask, assistant_calls: list[tuple[CommandContext, str]]) -> None:
    say_one("/help")
    say_one("/nosuch")
    assert assistant_calls == []


def test_group_chatter_that_does_not_mention_the_bot_gets_no_reply(app: Flask) -> None:
    assert say("/help", chat_type="group", mentioned=False) == []
    assert say("hello all", chat_type="group", mentioned=False) == []


def test_a_group_message_that_mentions_the_bot_is_answered(app: Flask) -> None:
    [reply] = say("/help", chat_type="group", mentioned=True)
    assert "/help" in (reply.text or "")


def test_an_empty_message_gets_no_reply(app: Flask) -> None:
    assert say("   ") == []


# -- the console CLI, in embedded mode -----------------------------------------------------------


@pytest.fixture
def embedded_app(tmp_path: Path) -> Iterator[Flask]:
    """Embedded mode: SQLite file, no Redis, in-process jobs; migrated like scripts/run.sh does."""
    from flask_migrate import upgrade

    application = create_app(base_environ(f"sqlite:///{tmp_path}/openclaw.db", REDIS_URL="", SECRET_KEY=""))
    assert application.config["EMBEDDED"] is True
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


def console(application: Flask, *args: str) -> Any:
    """Invoke `flask chat ...` as the flask command would: inside an app context."""
    with application.app_context():
        return application.test_cli_runner().invoke(args=["chat", *args])


def test_the_console_chat_command_prints_the_help_reply_in_embedded_mode(embedded_app: Flask) -> None:
    from app.infra.queue import EXTENSION, InProcessBackend

    assert isinstance(embedded_app.extensions[EXTENSION], InProcessBackend)
    result = console(embedded_app, "--as", "ou_alice", "--timeout", "10", "/help")
    assert result.exit_code == 0, result.output
    assert "Commands for you (admin):" in result.output
    assert "/help [command]" in result.output


def test_the_console_chat_command_goes_through_the_inbox_and_the_audit_log(embedded_app: Flask) -> None:
    from app.inbox.models import ConsoleReply, EventStatus, InboundEvent

    result = console(embedded_app, "--as", "ou_bob", "--timeout", "10", "/help")
    assert result.exit_code == 0, result.output
    with embedded_app.app_context():
        [event] = db.session.scalars(sa.select(InboundEvent)).all()
        assert event.source == "console"
        assert event.status == EventStatus.DONE
        [reply] = db.session.scalars(sa.select(ConsoleReply)).all()
        assert reply.event_id == event.id
        [record] = db.session.scalars(sa.select(AuditEvent)).all()
        assert (record.actor, record.action, record.target) == ("ou_bob", "command.run", "help")
        assert record.details["source"] == "console"


def test_the_console_chat_command_answers_free_text_with_the_assistant_hook(
    embedded_app: Flask, assistant_calls: list[tuple[CommandContext, str]],
) -> None:
    result = console(embedded_app, "--as", "ou_stranger", "is the site up?")
    assert result.exit_code == 0, result.output
    assert "assistant: is the site up?" in result.output
    [(ctx, _)] = assistant_calls
    assert (ctx.open_id, ctx.role, ctx.source) == ("ou_stranger", Role.USER, "console")


def test_the_console_chat_command_refuses_by_role_like_feishu_does(
    embedded_app: Flask, commands: Callable[..., str],
) -> None:
    name = commands("-admin", role=Role.ADMIN)
    result = console(embedded_app, "--as", "ou_bob", f"/{name}")
    assert result.exit_code == 0, result.output
    assert "needs the admin role" in result.output


def test_the_console_chat_command_needs_an_open_id(embedded_app: Flask) -> None:
    result = console(embedded_app, "/help")
    assert result.exit_code != 0
    assert "--as" in result.output




def test_the_real_flask_chat_command_answers_help_in_embedded_mode(embedded_app: Flask, tmp_path: Path) -> None:
    from tests.conftest import INVENTORY, ROOT

    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "DATABASE_URL": embedded_app.config["DATABASE_URL"], "OPENCLAW_CONFIG": str(INVENTORY)}
    flask = Path(sys.executable).with_name("flask")
    done = subprocess.run([str(flask), "--app", "app", "chat", "--as", "ou_carol", "/help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Commands for you (auditor):" in done.stdout


def test_apostrophes_inside_words_are_text_not_quotes(app: Flask, commands: Callable[..., str]) -> None:
    seen: list[str] = []

    def handler(ctx: CommandContext, args: Args) -> Reply:
        """Records the free text."""
        seen.append(args["text"])
        return Reply.of_text("ok")

    name = commands("-apostrophe", handler, params=(Param("text", rest=True),))
    assert say_one(f"/{name} can't log in, 'it is' down") == "ok"
    assert seen == ["can't log in, it is down"]
