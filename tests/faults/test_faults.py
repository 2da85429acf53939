"""Fault injection: for each fault, send a fixed set of commands and count what happened.

Each scenario sends COMMANDS distinct `/run` commands (one of them pushed twice, as Feishu
redelivers) around one fault, waits for the bot to recover, then counts: commands executed
(lines the runbook appended), replies delivered exactly once (as the fake Feishu saw them),
events lost, and whether the audit chain verifies. Every row must read executed = delivered =
sent, duplicates = lost = 0, audit ok. The table is printed at the end of the run
(scripts/bench/faults.py reruns just this suite).

The Feishu outage lasts OPENCLAW_FAULTS_FEISHU_OUTAGE seconds (default 10, not the 60 of the
issue, to keep the suite short; set it to 60 to reproduce the full outage).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import pytest

from tests.faults.conftest import ROWS
from tests.faults.harness import SETTLE_TIMEOUT, Bot, wait, wait_dead

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

COMMANDS = 4
OUTAGE = float(os.environ.get("OPENCLAW_FAULTS_FEISHU_OUTAGE", "10"))


def finish(bot: Bot) -> None:
    """Wait until everything owed is done, record the row, and hold it to the promise."""
    try:
        wait(bot.converged, SETTLE_TIMEOUT, "every command executed and answered", bot)
    finally:
        time.sleep(1.5)  # a further sweep round must not send or run anything again
        row = bot.row()
        ROWS.append(row)
    assert row.ok(), f"{row}\n{bot.logs()}"


def send_all(bot: Bot, count: int = COMMANDS, url: str | None = None) -> None:
    first = bot.command()
    assert bot.push(first, url, until_accepted=30) == 200
    assert bot.push(first, url, until_accepted=30) == 200  # Feishu's redelivery of the same event
    for _ in range(count - 1):
        assert bot.push(bot.command(), url, until_accepted=30) == 200


def test_feishu_unreachable_then_back(make_bot: Callable[[str], Bot]) -> None:
    bot = make_bot("feishu-outage")
    bot.start_worker()
    bot.feishu_down()
    send_all(bot)
    wait(lambda: len(set(bot.executed_tags())) == COMMANDS, 40, "the commands to run while Feishu is down", bot)
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - bot.started)))
    bot.feishu_up()
    finish(bot)


def test_feishu_answers_429_and_5xx(make_bot: Callable[[str], Bot]) -> None:
    bot = make_bot("feishu-429-5xx")
    bot.feishu.fail_next("/reply", status=429, code=99991400, times=4)
    bot.feishu.fail_next("/reply", status=500, code=1500, msg="internal error", times=4)
    bot.feishu.fail_next("/im/v1/messages", status=503, code=1500, msg="service unavailable", times=3)
    bot.start_worker()
    send_all(bot)
    finish(bot)


def test_redis_stopped_and_restarted(make_bot: Callable[[str], Bot]) -> None:
    bot = make_bot("redis-restart")
    bot.start_worker()
    assert bot.push(bot.command(), until_accepted=30) == 200
    wait(lambda: len(bot.executed_tags()) == 1, 30, "the first command to run", bot)
    bot.redis.stop()
    for _ in range(COMMANDS - 1):  # recorded in PostgreSQL; the hand-off to Redis fails
        assert bot.push(bot.command(), until_accepted=30) == 200
    time.sleep(2)
    bot.redis.start()  # empty: every queued job is gone
    finish(bot)


def test_postgresql_restarted(make_bot: Callable[[str], Bot]) -> None:
    bot = make_bot("postgres-restart")
    bot.start_worker()
    assert bot.push(bot.command(), until_accepted=30) == 200
    wait(lambda: len(bot.executed_tags()) == 1, 30, "the first command to run", bot)
    bot.pg.stop()
    statuses: list[int] = []
    pushes = threading.Thread(target=lambda: statuses.extend(
        bot.push(bot.command(), until_accepted=45) for _ in range(COMMANDS - 1)))
    pushes.start()  # refused (HTTP 500) while the database is down, accepted once it is back
    time.sleep(3)
    bot.pg.start()
    pushes.join(timeout=60)
    assert statuses == [200] * (COMMANDS - 1)
    finish(bot)


def test_worker_killed_before_claim(make_bot: Callable[[str], Bot]) -> None:
    bot = make_bot("kill-before-claim")
    doomed = bot.start_worker(FAULT_POINTS="event_before_claim")
    send_all(bot)
    wait_dead(doomed, bot)
    bot.start_worker()
    finish(bot)


def test_worker_killed_after_the_side_effect_before_the_reply(make_bot: Callable[[str], Bot]) -> None:
    bot = make_bot("kill-after-effect")
    doomed = bot.start_worker(FAULT_POINTS="event_after_route")
    assert bot.push(bot.command(), until_accepted=30) == 200
    wait_dead(doomed, bot)  # the execution exists and is queued; the reply was never stored
    bot.start_worker()
    for _ in range(COMMANDS - 1):
        assert bot.push(bot.command(), until_accepted=30) == 200
    finish(bot)


def test_worker_killed_during_delivery(make_bot: Callable[[str], Bot]) -> None:
    bot = make_bot("kill-during-delivery")
    doomed = bot.start_worker(FAULT_POINTS="outbox_after_send")
    send_all(bot)
    wait_dead(doomed, bot)  # Feishu has the first message; the worker died before recording it sent
    bot.start_worker()
    finish(bot)


def test_web_process_killed_mid_request(make_bot: Callable[[str], Bot]) -> None:
    bot = make_bot("kill-web")
    bot.start_worker()
    web, url = bot.start_web(FAULT_POINTS="webhook_after_record")
    first = bot.command()
    assert bot.push(first, url) != 200  # recorded, then the process died before handing it off or answering
    bot.stop(web)
    _, url = bot.start_web()
    assert bot.push(first, url, until_accepted=30) == 200  # Feishu redelivers: a duplicate now
    for _ in range(COMMANDS - 1):
        assert bot.push(bot.command(), url, until_accepted=30) == 200
    finish(bot)
