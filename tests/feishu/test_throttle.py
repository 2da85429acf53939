"""Throttle: sliding windows in memory and in Redis, and the send rate Feishu actually sees."""
from __future__ import annotations

import logging
import threading
import time

import pytest
import redis

from app.feishu.client import FeishuClient
from app.feishu.throttle import KEY_PREFIX, Throttle
from tests.fakes.feishu_server import FakeFeishuServer
from tests.feishu.procs import SEND_TEXTS, finish, spawn


class FakeClock:
    """A monotonic clock that only moves when the throttle sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _max_in_any_window(stamps: list[float], window: float) -> int:
    """The largest number of stamps inside any half-open interval [t, t + window)."""
    stamps = sorted(stamps)
    return max(sum(1 for s in stamps[i:] if s < start + window) for i, start in enumerate(stamps))


def test_local_throttle_lets_rate_through_then_waits_for_the_window() -> None:
    clock = FakeClock()
    throttle = Throttle(margin=0.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(12):
        throttle.acquire("chat:oc_a", 5, 1.0)
        stamps.append(clock.now)
    assert stamps == [0.0] * 5 + [1.0] * 5 + [2.0] * 2


def test_local_throttle_keeps_keys_apart_and_honours_the_app_rate() -> None:
    clock = FakeClock()
    throttle = Throttle(margin=0.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        throttle.acquire("chat:oc_a", 5)
    assert throttle.reserve("chat:oc_a", 5) == pytest.approx(1.0)
    assert throttle.reserve("chat:oc_b", 5) == 0.0
    assert [throttle.reserve("app:cli_test", 50) for _ in range(51)][-2:] == [0.0, pytest.approx(1.0)]


def test_local_throttle_is_thread_safe() -> None:
    throttle = Throttle()
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            throttle.acquire("chat:oc_threads", 5, 0.2)
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stamps) == 20
    assert _max_in_any_window(stamps, 0.2) == 5


def test_redis_throttle_uses_a_prefixed_sliding_window(feishu_redis: redis.Redis) -> None:
    throttle = Throttle(feishu_redis)
    assert [throttle.reserve("chat:oc_r", 5) for _ in range(5)] == [0.0] * 5
    wait = throttle.reserve("chat:oc_r", 5)
    assert 0.9 < wait <= 1.05
    key = KEY_PREFIX + "chat:oc_r"
    assert feishu_redis.zcard(key) == 5
    assert 0 < feishu_redis.pttl(key) <= 2050
    assert Throttle(feishu_redis).reserve("chat:oc_other", 5) == 0.0


def test_redis_throttle_is_shared_by_separate_instances(feishu_redis: redis.Redis) -> None:
    first, second = Throttle(feishu_redis), Throttle(feishu_redis)
    assert [first.reserve("msg:om_1", 5) for _ in range(3)] == [0.0] * 3
    assert [second.reserve("msg:om_1", 5) for _ in range(2)] == [0.0] * 2
    assert first.reserve("msg:om_1", 5) > 0.9
    assert second.reserve("msg:om_1", 5) > 0.9


def test_unreachable_redis_falls_back_to_local_limits(caplog: pytest.LogCaptureFixture) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    throttle = Throttle(dead)
    with caplog.at_level(logging.WARNING, logger="app.feishu.throttle"):
        assert [throttle.reserve("chat:oc_x", 2) for _ in range(2)] == [0.0, 0.0]
        assert throttle.reserve("chat:oc_x", 2) > 0.9
    assert "falling back" in caplog.text


def test_client_throttles_chat_app_user_and_message_keys(
    feishu_server: FakeFeishuServer, feishu_redis: redis.Redis
) -> None:
    client = FeishuClient(feishu_server.url, "cli_test", "secret", redis=feishu_redis)
    message_id = client.send_card("oc_ops", {"elements": [{"tag": "markdown", "content": "hi"}]})
    client.send_text("ou_alice", "hi", receive_id_type="open_id")
    client.update_card(message_id, {"elements": [{"tag": "markdown", "content": "bye"}]})
    keys = {k.decode() for k in feishu_redis.keys(KEY_PREFIX + "*")}
    assert keys == {KEY_PREFIX + k for k in ("app:cli_test", "chat:oc_ops", "user:ou_alice", f"msg:{message_id}")}
    assert feishu_redis.zcard(KEY_PREFIX + "app:cli_test") == 3


def _assert_five_per_second(server: FakeFeishuServer, count: int) -> None:
    stamps = [r.time for r in server.requests_to("/im/v1/messages") if r.code == 0]
    assert len(stamps) == count
    assert max(stamps) - min(stamps) >= 3.0  # 20 messages at 5/s
    assert _max_in_any_window(stamps, 1.0) <= 5


def test_twenty_sends_to_one_chat_arrive_at_most_five_per_second(feishu_server: FakeFeishuServer) -> None:
    client = FeishuClient(feishu_server.url, "cli_test", "secret")
    for i in range(20):
        client.send_text("oc_busy", f"line {i}")
    _assert_five_per_second(feishu_server, 20)


def test_two_processes_sharing_redis_stay_within_five_per_second(
    feishu_server: FakeFeishuServer, feishu_redis: redis.Redis
) -> None:
    start_at = time.time() + 1.5
    finish([spawn(SEND_TEXTS, feishu_server.url, start_at, "oc_shared", 10) for _ in range(2)])
    _assert_five_per_second(feishu_server, 20)
    assert feishu_server.token_requests == 1
