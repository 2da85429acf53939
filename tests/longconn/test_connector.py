"""The connector against the fake platform: delivery, ack, card answers, ping/pong, reconnects, races."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.chat import registry
from app.chat.types import CardAction, CardResponse, CommandContext
from app.feishu.longconn.endpoint import ConnectError
from app.inbox.models import EventStatus, InboundEvent
from app.infra.db import db
from tests.fakes.feishu_longconn import FakeLongConnServer
from tests.fakes.fixtures import Running
from tests.pushes import card_action, im_message
from tests.queueing import drain_all, pending

ACK_LIMIT = 3.0  # Feishu's deadline


@pytest.fixture
def lc_app(make_app: Callable[..., Flask], feishu_server: Any, longconn: FakeLongConnServer) -> Iterator[Flask]:
    """PostgreSQL + Redis app in long-connection mode, no verification token or encrypt key at all."""
    application = make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
                           FEISHU_TRANSPORT="longconn", FEISHU_VERIFICATION_TOKEN="", FEISHU_ENCRYPT_KEY="")
    with application.app_context():
        yield application
        db.session.remove()


@pytest.fixture
def drain(lc_app: Flask, redis_client: Any) -> Callable[[], None]:
    from rq import SimpleWorker

    from app.infra import queue as queue_module

    def run() -> None:
        queue_module._worker_app = lc_app
        queues = list(lc_app.extensions[queue_module.EXTENSION].queues.values())
        SimpleWorker(queues, connection=redis_client).work(burst=True, with_scheduler=False)

    return run


def rows() -> list[InboundEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(InboundEvent).order_by(InboundEvent.id)))


def test_a_message_is_acknowledged_recorded_and_answered(
    lc_app: Flask, longconn: FakeLongConnServer, feishu_server: Any, start_connector: Callable[..., Running],
    drain: Callable[[], None],
) -> None:
    start_connector(lc_app)
    conn = longconn.wait_connections(1)[0]
    payload = im_message("/help", sender="ou_bob", chat_type="p2p", mention_bot=False)
    message_id = longconn.send(payload, conn=conn)

    ack = longconn.wait_ack(message_id)[0]
    assert ack.elapsed < ACK_LIMIT
    assert ack.body == {"code": 200}
    headers = dict((h.key, h.value) for h in ack.frame.headers)
    assert headers["type"] == "event" and headers["message_id"] == message_id and int(headers["biz_rt"]) >= 0
    assert ack.frame.service == conn.service_id and ack.frame.method == 1
    [row] = rows()
    assert row.event_id == payload["header"]["event_id"] and row.status == EventStatus.RECEIVED

    drain_all(lc_app, drain)
    replies = [m for m in feishu_server.messages() if m.reply_to == payload["event"]["message"]["message_id"]]
    assert replies, f"no reply reached Feishu: {[(r.status, r.last_error, r.attempts) for r in rows()]}"
    assert rows()[0].status == EventStatus.DONE


def test_a_card_click_is_answered_on_the_connection(
    lc_app: Flask, longconn: FakeLongConnServer, start_connector: Callable[..., Running],
) -> None:
    name = f"test-{uuid.uuid4().hex[:10]}"
    calls: list[CardAction] = []

    @registry.card_action(name)
    def handler(ctx: CommandContext, action: CardAction) -> CardResponse:
        calls.append(action)
        return CardResponse(toast=f"Acknowledged by {ctx.open_id}", toast_type="success",
                            card={"schema": "2.0", "body": {"elements": []}})

    try:
        start_connector(lc_app)
        for kind in ("event", "card"):  # the platform has been seen to use either frame type
            message_id = longconn.send(card_action({"action": name}, operator="ou_bob"), kind=kind)
            ack = longconn.wait_ack(message_id)[0]
            assert ack.elapsed < ACK_LIMIT
            assert ack.body["code"] == 200
            assert ack.data == {"toast": {"type": "success", "content": "Acknowledged by ou_bob"},
                                "card": {"type": "raw", "data": {"schema": "2.0", "body": {"elements": []}}}}
        assert len(calls) == 2
        assert [r.status for r in rows()] == [EventStatus.DONE, EventStatus.DONE]
    finally:
        registry._card_actions.pop(name, None)


def test_a_refused_card_click_says_why(
    lc_app: Flask, longconn: FakeLongConnServer, start_connector: Callable[..., Running],
) -> None:
    from app.chat.types import Role

    name = f"test-{uuid.uuid4().hex[:10]}"
    registry.card_action(name, role=Role.ADMIN)(lambda ctx, action: CardResponse(toast="ran"))
    try:
        start_connector(lc_app)
        ack = longconn.wait_ack(longconn.send(card_action({"action": name}, operator="ou_bob")))[0]
        assert ack.data == {"toast": {"type": "error", "content": "Refused: this needs the admin role."}}
    finally:
        registry._card_actions.pop(name, None)


def test_the_same_frame_twice_is_acknowledged_twice_and_processed_once(
    lc_app: Flask, longconn: FakeLongConnServer, feishu_server: Any, start_connector: Callable[..., Running],
    drain: Callable[[], None],
) -> None:
    start_connector(lc_app)
    payload = im_message("/help", sender="ou_bob", chat_type="p2p", mention_bot=False)
    first = longconn.send(payload)
    longconn.send(payload, message_id=first)
    acks = longconn.wait_ack(first, count=2)
    assert [a.body["code"] for a in acks] == [200, 200]
    assert len(rows()) == 1
    drain_all(lc_app, drain)
    assert len([m for m in feishu_server.messages() if m.reply_to == payload["event"]["message"]["message_id"]]) == 1


def test_a_payload_split_over_frames_is_reassembled(
    lc_app: Flask, longconn: FakeLongConnServer, start_connector: Callable[..., Running],
) -> None:
    start_connector(lc_app)
    payload = im_message("/help " + "长" * 2000, sender="ou_bob", chat_type="p2p", mention_bot=False)
    message_id = longconn.send(payload, parts=3)
    assert longconn.wait_ack(message_id)[0].body == {"code": 200}
    assert [r.event_id for r in rows()] == [payload["header"]["event_id"]]


def test_unreadable_payloads_and_malformed_frames_do_not_break_the_connection(
    lc_app: Flask, longconn: FakeLongConnServer, start_connector: Callable[..., Running],
) -> None:
    start_connector(lc_app)
    longconn.send_raw(b"\xff\xff not protobuf")
    bad = longconn.send(b"{not json")
    assert longconn.wait_ack(bad)[0].body == {"code": 200}  # retrying cannot help; acknowledged and logged
    good = longconn.send(im_message("/help", chat_type="p2p", mention_bot=False))
    assert longconn.wait_ack(good)[0].body == {"code": 200}
    assert len(rows()) == 1


def test_when_the_database_is_down_the_ack_is_500_so_the_platform_retries(
    lc_app: Flask, longconn: FakeLongConnServer, start_connector: Callable[..., Running],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import app.feishu.intake as intake

    def broken(**kwargs: Any) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(intake.inbox, "record", broken)
    start_connector(lc_app)
    message_id = longconn.send(im_message("/help", chat_type="p2p", mention_bot=False))
    assert longconn.wait_ack(message_id)[0].body == {"code": 500}


def test_pings_are_sent_and_pongs_update_the_client_config(
    make_app: Callable[..., Flask], feishu_server: Any, start_connector: Callable[..., Running],
) -> None:
    server = FakeLongConnServer(
        client_config={"ReconnectCount": -1, "ReconnectInterval": 1, "ReconnectNonce": 0, "PingInterval": 1},
        pong_config={"ReconnectCount": 3, "ReconnectInterval": 9, "ReconnectNonce": 4, "PingInterval": 1},
    ).start()
    feishu_server.attach_longconn(server)
    try:
        app = make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
                       FEISHU_TRANSPORT="longconn")
        running = start_connector(app)
        conn = server.wait_connections(1)[0]
        deadline = time.monotonic() + 5
        while conn.pings < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert conn.pings >= 3
        ping = conn.frames[0]
        assert ping.method == 0 and [(h.key, h.value) for h in ping.headers] == [("type", "ping")]
        assert ping.service == conn.service_id
        config = running.connector.config
        assert (config.reconnect_count, config.reconnect_interval, config.reconnect_nonce) == (3, 9, 4)
        assert running.connector.status.last_pong_at is not None
    finally:
        server.stop()


def test_a_server_side_close_is_followed_by_rediscovery_and_a_new_connection(
    lc_app: Flask, longconn: FakeLongConnServer, start_connector: Callable[..., Running],
) -> None:
    running = start_connector(lc_app)
    first = longconn.wait_connections(1)[0]
    assert longconn.discoveries == 1
    longconn.close_all()
    deadline = time.monotonic() + 10
    while not [c for c in longconn.live() if c is not first] and time.monotonic() < deadline:
        time.sleep(0.05)
    second = longconn.live()[0]
    assert second is not first and second.device_id != first.device_id
    assert longconn.discoveries == 2  # a fresh endpoint, not the old URL again
    assert running.connector.status.reconnects == 1
    message_id = longconn.send(im_message("/help", chat_type="p2p", mention_bot=False), conn=second)
    assert longconn.wait_ack(message_id)[0].body == {"code": 200}


def test_a_refused_handshake_is_retried_with_a_fresh_ticket(
    lc_app: Flask, longconn: FakeLongConnServer, start_connector: Callable[..., Running],
) -> None:
    longconn.refuse_next_handshake(514, auth_code=1000040351)
    start_connector(lc_app)
    longconn.wait_connections(1)
    assert longconn.refused_handshakes == 1 and longconn.discoveries == 2


@pytest.mark.parametrize("refuse", [
    lambda server, feishu: server.refuse_next_handshake(514, auth_code=1000040350),  # 50 connections in use
    lambda server, feishu: server.refuse_next_handshake(403),
    lambda server, feishu: feishu.refuse_next_discovery(1000040344, "invalid credentials"),
])
def test_fatal_refusals_stop_the_connector_with_the_reason(
    lc_app: Flask, longconn: FakeLongConnServer, feishu_server: Any, start_connector: Callable[..., Running],
    refuse: Callable[..., None],
) -> None:
    refuse(longconn, feishu_server)
    running = start_connector(lc_app)
    running.thread.join(timeout=10)
    assert isinstance(running.error, ConnectError) and running.error.fatal
    assert running.connector.status.state == "failed"
    assert longconn.live() == []


def test_two_connectors_racing_for_one_event_process_it_once(
    lc_app: Flask, longconn: FakeLongConnServer, feishu_server: Any, start_connector: Callable[..., Running],
    drain: Callable[[], None],
) -> None:
    start_connector(lc_app, name="connector-a")
    start_connector(lc_app, name="connector-b")
    a, b = longconn.wait_connections(2)
    payloads = [im_message("/help", sender="ou_bob", chat_type="p2p", mention_bot=False) for _ in range(10)]
    sent: list[str] = []
    barrier = threading.Barrier(2)

    def deliver(conn: Any) -> None:
        barrier.wait()
        for payload in payloads:  # the platform's retry landed on the other connection at the same moment
            sent.append(longconn.send(payload, conn=conn, message_id=payload["header"]["event_id"]))

    threads = [threading.Thread(target=deliver, args=(conn,)) for conn in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for payload in payloads:
        acks = longconn.wait_ack(payload["header"]["event_id"], count=2)
        assert [ack.body["code"] for ack in acks] == [200, 200]
    assert sorted(r.event_id for r in rows()) == sorted(p["header"]["event_id"] for p in payloads)
    assert pending(lc_app) == 10  # one hand-off per event, not per delivery
    drain_all(lc_app, drain)
    for payload in payloads:
        message_id = payload["event"]["message"]["message_id"]
        assert len([m for m in feishu_server.messages() if m.reply_to == message_id]) == 1


def test_with_a_max_age_old_events_are_acknowledged_and_not_run(
    make_app: Callable[..., Flask], feishu_server: Any, longconn: FakeLongConnServer,
    start_connector: Callable[..., Running],
) -> None:
    app = make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
                   FEISHU_MAX_EVENT_AGE="600")
    start_connector(app)
    old = im_message("/help", chat_type="p2p", mention_bot=False)
    old["header"]["create_time"] = str(int((time.time() - 3600) * 1000))  # queued for an hour, delivered now
    fresh = im_message("/help", chat_type="p2p", mention_bot=False)
    assert longconn.wait_ack(longconn.send(old))[0].body == {"code": 200}
    assert longconn.wait_ack(longconn.send(fresh))[0].body == {"code": 200}
    with app.app_context():
        assert [r.event_id for r in rows()] == [fresh["header"]["event_id"]]


def test_back_off_grows_jittered_up_to_the_interval_and_starts_with_the_nonce() -> None:
    import random

    from app.feishu.longconn.connector import reconnect_delay
    from app.feishu.longconn.endpoint import ClientConfig

    config = ClientConfig(reconnect_interval=120, reconnect_nonce=30)
    rng = random.Random(3)
    firsts = [reconnect_delay(0, config, rng) for _ in range(200)]
    assert 0 <= min(firsts) and max(firsts) <= 30 and len({round(f, 3) for f in firsts}) > 150  # jittered
    for attempt in range(1, 12):
        delays = [reconnect_delay(attempt, config, rng) for _ in range(50)]
        ceiling = min(120.0, 2.0 ** attempt)
        assert all(ceiling / 2 <= d <= ceiling for d in delays)


def test_a_connection_that_keeps_dropping_backs_off_instead_of_spinning(
    lc_app: Flask, longconn: FakeLongConnServer, start_connector: Callable[..., Running],
) -> None:
    running = start_connector(lc_app)  # the fake hands out ReconnectNonce 0, ReconnectInterval 1
    gaps = []
    for _ in range(3):  # accepted, then closed straight away, three times
        conn = longconn.wait_connections(1)[0]
        conn.ws.close(1011, "flapping")
        deadline = time.monotonic() + 10
        while conn.open and time.monotonic() < deadline:
            time.sleep(0.005)
        closed = time.monotonic()
        while not [c for c in longconn.live() if c is not conn] and time.monotonic() < deadline:
            time.sleep(0.005)
        gaps.append(time.monotonic() - closed)
    assert running.connector.status.reconnects == 3
    assert gaps[0] < 1.0, gaps  # first retry: a random part of ReconnectNonce (0 here)
    # then 2**n s jittered by half, capped at ReconnectInterval: 0.5 .. 1 s (upper bound loose for a busy machine)
    assert all(0.45 <= gap <= 3.0 for gap in gaps[1:]), gaps
