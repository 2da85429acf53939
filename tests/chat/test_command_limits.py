"""Per-user limits on commands and card clicks: counted once in dispatch, shared through Redis."""
from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis as redis_lib
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.audit.models import AuditEvent
from app.chat import command_limits, registry
from app.chat.args import Args
from app.chat.types import CardAction, CardResponse, CommandContext, IncomingMessage, Reply, Role
from app.config import load_config
from app.errors import ConfigError
from app.infra.db import db
from app.infra.ratelimit import PerMinuteCounter
from tests.automation.sshd import free_port
from tests.conftest import REDIS_URL, base_environ

REFUSAL = re.compile(r"^Too many commands: the limit is (\d+) a minute; try again in (\d+) s\.$")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- the counter ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-process"])
def test_the_counter_allows_the_limit_then_refuses_until_the_next_minute(
    shared: bool, redis_client: redis_lib.Redis,
) -> None:
    clock = Clock(60 * 1000 + 45.2)
    counter = PerMinuteCounter(redis_client if shared else None, "test:rate:", clock=clock)
    hits = [counter.hit("ou_x", 3) for _ in range(5)]
    assert [h.allowed for h in hits] == [True, True, True, False, False]
    assert [h.count for h in hits] == [1, 2, 3, 4, 5]
    assert [h.first_refusal for h in hits] == [False, False, False, True, False]
    assert hits[3].retry_after == 15  # 14.8 s left in the minute, rounded up
    assert counter.hit("ou_y", 3).allowed  # per key
    clock.now = 60 * 1001 + 0.1
    fresh = counter.hit("ou_x", 3)
    assert (fresh.allowed, fresh.count, fresh.retry_after) == (True, 1, 60)


def test_counters_on_one_redis_share_the_count_like_two_processes_do(redis_client: redis_lib.Redis) -> None:
    clock = Clock(60 * 2000 + 1)
    web = PerMinuteCounter(redis_lib.Redis.from_url(REDIS_URL), "test:rate:", clock=clock)
    worker = PerMinuteCounter(redis_lib.Redis.from_url(REDIS_URL), "test:rate:", clock=clock)
    assert web.hit("ou_x", 2).allowed and worker.hit("ou_x", 2).allowed
    assert not web.hit("ou_x", 2).allowed
    [key] = redis_client.keys("test:rate:*")
    assert 60 < redis_client.ttl(key) <= 120  # windows expire on their own


def test_a_zero_limit_counts_nothing(redis_client: redis_lib.Redis) -> None:
    counter = PerMinuteCounter(redis_client, "test:rate:")
    assert all(counter.hit("ou_x", 0).allowed for _ in range(10))
    assert redis_client.keys("test:rate:*") == []


# -- settings -------------------------------------------------------------------------------------


def test_the_defaults_are_100_a_minute_for_everyone_but_admins(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config({})
    assert (config["COMMAND_RATE_PER_MINUTE"], config["COMMAND_RATE_PER_ROLE"]) == (100, {})
    assert config["COMMAND_RATE_EXEMPT_ADMINS"] is True
    assert [command_limits.limit_for(role, config) for role in Role] == [100, 100, 100, 0]


def test_per_role_overrides_are_parsed_and_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config({"COMMAND_RATE_PER_ROLE": " user=30, operator=0 ,admin=5",
                          "COMMAND_RATE_EXEMPT_ADMINS": "false", "COMMAND_RATE_PER_MINUTE": "50"})
    assert config["COMMAND_RATE_PER_ROLE"] == {"user": 30, "operator": 0, "admin": 5}
    assert [command_limits.limit_for(role, config) for role in Role] == [30, 50, 0, 5]


@pytest.mark.parametrize(("environ", "reason"), [
    ({"COMMAND_RATE_PER_ROLE": "guest=3"}, "COMMAND_RATE_PER_ROLE: expected role=N pairs"),
    ({"COMMAND_RATE_PER_ROLE": "user=-1"}, "got 'user=-1'"),
    ({"COMMAND_RATE_PER_ROLE": "user=many"}, "got 'user=many'"),
    ({"COMMAND_RATE_PER_ROLE": "user"}, "got 'user'"),
    ({"COMMAND_RATE_PER_ROLE": "user=1,user=2"}, "role 'user' is given twice"),
    ({"COMMAND_RATE_PER_MINUTE": "-5"}, "COMMAND_RATE_PER_MINUTE: must be >= 0"),
    ({"COMMAND_RATE_EXEMPT_ADMINS": "maybe"}, "COMMAND_RATE_EXEMPT_ADMINS: expected true or false"),
])
def test_bad_limit_settings_stop_start_up_naming_the_variable(
    environ: dict[str, str], reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=re.escape(reason)):
        load_config(environ)


# -- dispatch on PostgreSQL + Redis ---------------------------------------------------------------


@pytest.fixture
def ran() -> Iterator[tuple[str, str, list[str]]]:
    """A throwaway command and card action that record each run."""
    runs: list[str] = []
    name, action = f"t{uuid.uuid4().hex[:6]}", f"t{uuid.uuid4().hex[:6]}-click"

    def handler(ctx: CommandContext, args: Args) -> Reply:
        """A throwaway command."""
        runs.append(f"command:{ctx.open_id}")
        return Reply.of_text("ran")

    def click(ctx: CommandContext, card: CardAction) -> CardResponse:
        runs.append(f"click:{ctx.open_id}")
        return CardResponse(toast="clicked")

    registry.command(name, usage=f"/{name}")(handler)
    registry.card_action(action)(click)
    yield name, action, runs
    registry._commands.pop(name, None)
    registry._card_actions.pop(action, None)


def ctx_for(open_id: str, role: Role) -> CommandContext:
    return CommandContext(open_id=open_id, role=role, chat_id="oc_test", event_id=f"ev-{uuid.uuid4().hex}")


def click(ctx: CommandContext, action: str) -> CardResponse:
    card = CardAction(event_id=ctx.event_id or "", open_id=ctx.open_id, value={"action": action},
                      message_id="om_1", chat_id="oc_test")
    return registry.dispatch_card(ctx, card)


def audit_rows(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def limited(make_app: Callable[..., Flask]) -> Callable[..., Flask]:
    def build(**overrides: str) -> Flask:
        application = make_app(**{"COMMAND_RATE_PER_MINUTE": "3", **overrides})
        return application

    return build


def test_over_the_limit_a_command_is_refused_with_the_limit_and_the_wait_and_does_not_run(
    limited: Callable[..., Flask], ran: tuple[str, str, list[str]], caplog: pytest.LogCaptureFixture,
) -> None:
    name, _, runs = ran
    with limited().app_context():
        replies = [registry.dispatch(ctx_for("ou_bob", Role.OPERATOR), f"/{name}").text for _ in range(5)]
        assert replies[:3] == ["ran"] * 3
        for text in replies[3:]:
            match = REFUSAL.match(text or "")
            assert match, text
            assert match[1] == "3" and 1 <= int(match[2]) <= 60
        assert runs == ["command:ou_bob"] * 3
        assert len(audit_rows("command.run")) == 3
        [refusal] = audit_rows("command.limited")  # audited once per minute, not once per refused command
        assert (refusal.actor, refusal.target, refusal.details["limit"]) == ("ou_bob", f"/{name}", 3)
        assert sum("over the command limit" in r.getMessage() for r in caplog.records) == 2  # every refusal logged
        assert registry.dispatch(ctx_for("ou_carol", Role.AUDITOR), f"/{name}").text == "ran"  # per person


def test_commands_and_clicks_share_one_allowance_and_a_click_over_it_gets_a_toast(
    limited: Callable[..., Flask], ran: tuple[str, str, list[str]],
) -> None:
    name, action, runs = ran
    with limited().app_context():
        ctx = ctx_for("ou_bob", Role.OPERATOR)
        assert registry.dispatch(ctx, f"/{name}").text == "ran"
        assert click(ctx, action).toast == "clicked"
        assert click(ctx, action).toast == "clicked"
        refused = click(ctx, action)
        assert refused.card is None and refused.toast_type == "warning"
        assert REFUSAL.match(refused.toast or "")
        assert REFUSAL.match(registry.dispatch(ctx, f"/{name}").text or "")
        assert runs == ["command:ou_bob", "click:ou_bob", "click:ou_bob"]
        assert [row.target for row in audit_rows("card.limited")] == [action]


def test_the_count_is_shared_by_every_process_through_redis(
    limited: Callable[..., Flask], ran: tuple[str, str, list[str]],
) -> None:
    name, _, runs = ran
    web, worker = limited(), limited()
    for application in (web, worker, web):
        with application.app_context():
            assert registry.dispatch(ctx_for("ou_bob", Role.OPERATOR), f"/{name}").text == "ran"
    with worker.app_context():
        assert REFUSAL.match(registry.dispatch(ctx_for("ou_bob", Role.OPERATOR), f"/{name}").text or "")
    assert len(runs) == 3


def test_a_role_override_sets_that_roles_limit(limited: Callable[..., Flask],
                                                ran: tuple[str, str, list[str]]) -> None:
    name, _, _ = ran
    with limited(COMMAND_RATE_PER_ROLE="user=1,operator=0").app_context():
        user = ctx_for("ou_stranger", Role.USER)
        assert registry.dispatch(user, f"/{name}").text == "ran"
        assert REFUSAL.match(registry.dispatch(user, f"/{name}").text or "").group(1) == "1"
        operator = ctx_for("ou_bob", Role.OPERATOR)
        assert all(registry.dispatch(operator, f"/{name}").text == "ran" for _ in range(10))
        auditor = ctx_for("ou_carol", Role.AUDITOR)  # no override: the default
        assert [registry.dispatch(auditor, f"/{name}").text == "ran" for _ in range(4)] == [True] * 3 + [False]


def test_admins_are_exempt_unless_the_setting_says_otherwise(limited: Callable[..., Flask],
                                                             ran: tuple[str, str, list[str]]) -> None:
    name, _, _ = ran
    with limited().app_context():
        admin = ctx_for("ou_alice", Role.ADMIN)
        assert all(registry.dispatch(admin, f"/{name}").text == "ran" for _ in range(10))
    with limited(COMMAND_RATE_EXEMPT_ADMINS="false").app_context():
        admin = ctx_for("ou_alice", Role.ADMIN)
        assert [registry.dispatch(admin, f"/{name}").text == "ran" for _ in range(4)] == [True] * 3 + [False]


def test_a_zero_limit_turns_the_limit_off(limited: Callable[..., Flask], ran: tuple[str, str, list[str]],
                                          redis_client: redis_lib.Redis) -> None:
    name, _, _ = ran
    with limited(COMMAND_RATE_PER_MINUTE="0").app_context():
        assert all(registry.dispatch(ctx_for("ou_bob", Role.OPERATOR), f"/{name}").text == "ran" for _ in range(10))
    assert redis_client.keys(f"{command_limits.PREFIX}*") == []


def test_commands_the_assistant_runs_as_tools_are_not_counted(limited: Callable[..., Flask],
                                                               ran: tuple[str, str, list[str]]) -> None:
    name, _, _ = ran
    with limited().app_context():
        ctx = ctx_for("ou_bob", Role.OPERATOR)
        assert all(registry.dispatch(ctx, f"/{name}", counted=False).text == "ran" for _ in range(5))
        assert registry.dispatch(ctx, f"/{name}").text == "ran"


def test_typed_messages_from_feishu_are_limited_through_the_router(limited: Callable[..., Flask]) -> None:
    from app.chat.router import route

    with limited(COMMAND_RATE_PER_MINUTE="1").app_context():
        def send() -> str:
            message = IncomingMessage(event_id=f"ev-{uuid.uuid4().hex}", message_id="om_x", chat_id="oc_test",
                                      chat_type="p2p", open_id="ou_carol", text="/help", mentioned_bot=False)
            [reply] = route(message)
            return reply.text or ""

        assert "Commands for you (auditor):" in send()
        assert REFUSAL.match(send())


def test_when_redis_is_unreachable_commands_still_run_and_the_failure_is_logged(
    limited: Callable[..., Flask], ran: tuple[str, str, list[str]], caplog: pytest.LogCaptureFixture,
) -> None:
    name, _, runs = ran
    application = limited()
    with application.app_context():
        dead = redis_lib.Redis(port=free_port(), socket_connect_timeout=0.5)
        application.extensions[command_limits.EXTENSION] = PerMinuteCounter(dead, command_limits.PREFIX)
        with caplog.at_level(logging.WARNING):
            assert registry.dispatch(ctx_for("ou_bob", Role.OPERATOR), f"/{name}").text == "ran"
        assert "command limit not checked for ou_bob: Redis unavailable" in caplog.text
        assert runs == ["command:ou_bob"]


# -- embedded mode: SQLite, no Redis --------------------------------------------------------------


def test_embedded_mode_limits_in_process_and_audits_on_sqlite(
    tmp_path: Path, ran: tuple[str, str, list[str]],
) -> None:
    from flask_migrate import upgrade

    name, action, runs = ran
    application = create_app(base_environ(f"sqlite:///{tmp_path}/openclaw.db", REDIS_URL="", SECRET_KEY="",
                                          COMMAND_RATE_PER_MINUTE="2"))
    assert application.config["EMBEDDED"] is True
    with application.app_context():
        upgrade()
        ctx = ctx_for("ou_bob", Role.OPERATOR)
        assert registry.dispatch(ctx, f"/{name}").text == "ran"
        assert click(ctx, action).toast == "clicked"
        assert REFUSAL.match(click(ctx, action).toast or "")
        assert REFUSAL.match(registry.dispatch(ctx, f"/{name}").text or "")
        assert runs == ["command:ou_bob", "click:ou_bob"]
        assert [row.action for row in audit_rows("card.limited")] == ["card.limited"]
        db.session.remove()
        db.engine.dispose()
