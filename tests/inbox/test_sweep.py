"""At least once, exactly one effect: the sweep picks up events no worker handled; claims stop doubles."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.inbox import tasks
from app.inbox.models import EventStatus, InboundEvent
from app.infra.db import db, utcnow
from tests.conftest import ENCRYPT_KEY, INVENTORY, REDIS_URL, ROOT, TEST_SECRET_KEY, VERIFICATION_TOKEN
from tests.queueing import drain_all, forget_pending, pending, refuse_handoff
from tests.pushes import BOT_OPEN_ID, encrypted_push, im_message

WORKER_WAIT = 20.0  # seconds a real worker gets to pick the event up


def events() -> list[InboundEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(InboundEvent).order_by(InboundEvent.id)))


def backdate(seconds: float, **values: Any) -> None:
    """Pretend every event was last touched `seconds` ago (and set other columns)."""
    db.session.execute(sa.update(InboundEvent).values(updated_at=utcnow() - timedelta(seconds=seconds), **values))
    db.session.commit()


def replies_to(feishu_server: Any, message_id: str) -> list[Any]:
    return [m for m in feishu_server.messages() if m.reply_to == message_id]


@pytest.fixture
def queue_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook cannot queue, as if Redis were unreachable; the sweep's enqueue still works."""
    refuse_handoff(monkeypatch)


def deliver_help(client: FlaskClient, sender: str = "ou_bob") -> str:
    """POST an encrypted /help from sender to the webhook; returns its message_id."""
    payload = im_message("/help", sender=sender)
    raw, headers = encrypted_push(payload)
    response = client.post("/webhook/feishu", data=raw, headers=headers, content_type="application/json")
    assert response.status_code == 200
    return str(payload["event"]["message"]["message_id"])


# -- the sweep -------------------------------------------------------------------------------


@pytest.mark.usefixtures("queue_down")
def test_an_event_that_could_not_be_queued_is_still_acknowledged_and_stays_received(
    app: Flask, client: FlaskClient,
) -> None:
    deliver_help(client)
    [event] = events()
    assert event.status == EventStatus.RECEIVED
    assert event.attempts == 0
    assert pending(app) == 0


@pytest.mark.usefixtures("queue_down")
def test_the_sweep_queues_an_event_no_worker_took_and_it_is_processed_exactly_once(
    app: Flask, client: FlaskClient, drain: Callable[[], int], feishu_server: Any,
) -> None:
    message_id = deliver_help(client)
    backdate(app.config["EVENT_SWEEP_INTERVAL"] + 1)
    assert tasks.sweep_events() == 1
    assert tasks.sweep_events() == 1  # a second sweep before any worker ran queues it again ...
    assert pending(app) == 2
    drain_all(app, drain)
    [event] = events()
    assert event.status == EventStatus.DONE
    assert event.attempts == 1  # ... but only one claim succeeds
    assert len(replies_to(feishu_server, message_id)) == 1
    backdate(app.config["EVENT_SWEEP_INTERVAL"] + 1)
    assert tasks.sweep_events() == 0  # done events are never swept again


@pytest.mark.usefixtures("queue_down")
def test_the_sweep_leaves_an_event_alone_until_the_sweep_interval_has_passed(
    app: Flask, client: FlaskClient,
) -> None:
    deliver_help(client)  # just recorded: the normal enqueue may still be on its way
    assert tasks.sweep_events() == 0
    assert pending(app) == 0


def test_an_event_stuck_in_processing_is_marked_interrupted_never_routed_again_and_the_chat_is_told(
    app: Flask, client: FlaskClient, drain: Callable[[], int], feishu_server: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    message_id = deliver_help(client)
    forget_pending(app)  # the worker that took it died mid-way
    backdate(app.config["EVENT_STALE_AFTER"] + 1, status=EventStatus.PROCESSING, attempts=1)
    routed: list[str] = []
    monkeypatch.setattr(tasks.router, "route", lambda message: routed.append(message.event_id) or [])
    assert tasks.sweep_events() == 0  # nothing to queue again ...
    [event] = events()
    assert event.status == EventStatus.INTERRUPTED
    assert "not routed again" in (event.last_error or "")
    [notice] = replies_to(feishu_server, message_id)  # ... but the chat hears what is known
    assert notice.text is not None and "interrupted" in notice.text and "Nothing is known to have run" in notice.text
    assert notice.uuid == f"{message_id}-0"
    tasks.process_event(event.id)  # a stray job for it finds nothing to do
    drain_all(app, drain)
    backdate(app.config["EVENT_STALE_AFTER"] + 1)
    assert tasks.sweep_events() == 0
    assert routed == []
    assert len(replies_to(feishu_server, message_id)) == 1


def test_an_event_processing_for_less_than_the_stale_bound_is_left_to_its_worker(
    app: Flask, client: FlaskClient,
) -> None:
    deliver_help(client)
    forget_pending(app)
    backdate(app.config["EVENT_STALE_AFTER"] - 60, status=EventStatus.PROCESSING, attempts=1)
    assert tasks.sweep_events() == 0
    [event] = events()
    assert event.status == EventStatus.PROCESSING


def _burst(app: Flask, redis_client: Any) -> Callable[[], None]:
    from rq import SimpleWorker

    from app.infra import queue as queue_module

    def run_jobs() -> int:
        queue_module._worker_app = app
        SimpleWorker(list(app.extensions[queue_module.EXTENSION].queues.values()), connection=redis_client).work(
            burst=True, with_scheduler=False)
        return 0

    return lambda: drain_all(app, run_jobs)


def test_an_event_that_cannot_be_read_is_retried_until_max_attempts_then_dead(
    make_app: Callable[..., Flask], feishu_server: Any, redis_client: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(EVENT_MAX_ATTEMPTS="2", FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret",
                   FEISHU_BASE_URL=feishu_server.url)
    reads: list[str] = []

    def unreadable(event: Any) -> Any:  # fails before routing begins, so retrying is safe
        reads.append(event.event_id)
        raise RuntimeError("bot open id unavailable")

    monkeypatch.setattr(tasks, "_message_of", unreadable)
    drain_app = _burst(app, redis_client)
    with app.app_context():
        deliver_help(app.test_client())
        drain_app()
        [event] = events()
        assert (event.status, event.attempts) == (EventStatus.FAILED, 1)
        assert "bot open id unavailable" in (event.last_error or "")

        backdate(app.config["EVENT_SWEEP_INTERVAL"] + 1)
        assert tasks.sweep_events() == 1
        drain_app()
        [event] = events()
        assert (event.status, event.attempts) == (EventStatus.FAILED, 2)

        backdate(app.config["EVENT_SWEEP_INTERVAL"] + 1)
        assert tasks.sweep_events() == 0
        [event] = events()
        assert event.status == EventStatus.DEAD
        assert pending(app) == 0
        tasks.process_event(event.id)  # even a stray job cannot revive it
        assert len(reads) == 2
        assert events()[0].status == EventStatus.DEAD
    assert feishu_server.messages() == []


def test_a_router_that_raises_is_not_retried_and_the_chat_is_told(
    make_app: Callable[..., Flask], feishu_server: Any, redis_client: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url)
    runs: list[str] = []

    def broken_route(message: Any) -> list[Any]:
        runs.append(message.event_id)
        raise RuntimeError("router exploded")

    monkeypatch.setattr(tasks.router, "route", broken_route)
    drain_app = _burst(app, redis_client)
    with app.app_context():
        message_id = deliver_help(app.test_client())
        drain_app()
        [event] = events()
        assert event.status == EventStatus.INTERRUPTED
        assert "router exploded" in (event.last_error or "")
        backdate(app.config["EVENT_SWEEP_INTERVAL"] + 1)
        assert tasks.sweep_events() == 0
        drain_app()
        assert runs == [event.event_id]
    [notice] = replies_to(feishu_server, message_id)
    assert notice.text is not None and "will not be run again" in notice.text


def test_process_event_run_twice_for_the_same_event_does_the_work_once(
    app: Flask, client: FlaskClient, feishu_server: Any,
) -> None:
    message_id = deliver_help(client)
    [event] = events()
    tasks.process_event(event.id)
    tasks.process_event(event.id)
    [event] = events()
    assert event.status == EventStatus.DONE
    assert event.attempts == 1
    assert event.processed_at is not None
    assert len(replies_to(feishu_server, message_id)) == 1


# -- a real worker process -------------------------------------------------------------------


@pytest.fixture
def start_worker(pg_url: str, feishu_server: Any, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `flask --app app worker` on the test database, Redis and fake Feishu; stopped after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**overrides: str) -> subprocess.Popen[bytes]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "DATABASE_URL": pg_url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": TEST_SECRET_KEY,
            "OPENCLAW_CONFIG": str(INVENTORY),
            "FEISHU_APP_ID": "cli_test",
            "FEISHU_APP_SECRET": "secret",
            "FEISHU_BASE_URL": feishu_server.url,
            "FEISHU_VERIFICATION_TOKEN": VERIFICATION_TOKEN,
            "FEISHU_ENCRYPT_KEY": ENCRYPT_KEY,
            "FEISHU_BOT_OPEN_ID": BOT_OPEN_ID,
            "LOG_LEVEL": "INFO",
            **overrides,
        }
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")  # noqa: SIM115 - closed with the process
        flask = Path(sys.executable).with_name("flask")
        process = subprocess.Popen([str(flask), "--app", "app", "worker"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        log.close()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def wait_until(condition: Callable[[], bool], timeout: float, worker: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if worker.poll() is not None:
            return False
        time.sleep(0.1)
    return condition()


def test_events_recorded_while_no_worker_runs_are_processed_once_a_worker_starts(
    app: Flask, client: FlaskClient, feishu_server: Any, start_worker: Callable[..., subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    queued_id = deliver_help(client, sender="ou_bob")  # recorded and queued in Redis; nobody is listening
    with monkeypatch.context() as patch:  # this one was recorded while Redis refused the hand-off
        refuse_handoff(patch)
        unqueued_id = deliver_help(client, sender="ou_alice")
    backdate(5)
    assert pending(app) == 1
    assert {e.status for e in events()} == {EventStatus.RECEIVED}

    worker = start_worker(EVENT_SWEEP_INTERVAL="1")

    def both_done() -> bool:  # handled, and each reply delivered (delivery follows the handled mark)
        handled = [e.status for e in events()] == [EventStatus.DONE, EventStatus.DONE]
        return handled and all(replies_to(feishu_server, m) for m in (queued_id, unqueued_id))

    finished = wait_until(both_done, WORKER_WAIT, worker)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("worker-*.log"))
    assert finished, f"worker did not finish the events within {WORKER_WAIT}s; its log:\n{logs}"
    assert worker.poll() is None, f"the worker exited early:\n{logs}"
    assert len(replies_to(feishu_server, queued_id)) == 1
    assert len(replies_to(feishu_server, unqueued_id)) == 1
    assert [e.attempts for e in events()] == [1, 1]
    time.sleep(1.5)  # a further sweep tick must not send anything again
    assert len(feishu_server.messages()) == 2

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) is not None
