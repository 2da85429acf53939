"""Conversation memory bounds and expiry, and per-user limits, in Redis and in-process."""
from __future__ import annotations

import pytest
import redis as redis_lib

from app.ai.limits import LimitExceeded, Limits
from app.ai.memory import ConversationMemory, estimate_tokens, key_for
from tests.conftest import REDIS_URL


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["redis", "local"])
def store(request: pytest.FixtureRequest, redis_client: redis_lib.Redis) -> redis_lib.Redis | None:
    return redis_client if request.param == "redis" else None


def test_memory_keeps_only_the_last_turns(store: redis_lib.Redis | None) -> None:
    memory = ConversationMemory(store, max_turns=2, max_tokens=10_000, idle_seconds=60)
    for n in range(5):
        memory.append("oc_1", f"q{n}", f"a{n}")
    assert [t["content"] for t in memory.load("oc_1")] == ["q3", "a3", "q4", "a4"]


def test_memory_drops_oldest_exchanges_over_the_token_budget(store: redis_lib.Redis | None) -> None:
    memory = ConversationMemory(store, max_turns=10, max_tokens=60, idle_seconds=60)
    memory.append("oc_1", "x" * 200, "old answer")
    memory.append("oc_1", "磁盘满了", "清理日志")
    assert [t["content"] for t in memory.load("oc_1")] == ["磁盘满了", "清理日志"]


def test_memory_clear_forgets(store: redis_lib.Redis | None) -> None:
    memory = ConversationMemory(store, max_turns=3, max_tokens=1000, idle_seconds=60)
    memory.append("oc_1", "q", "a")
    memory.clear("oc_1")
    assert memory.load("oc_1") == []


def test_in_process_memory_expires_after_idle_time() -> None:
    clock = Clock()
    memory = ConversationMemory(None, max_turns=3, max_tokens=1000, idle_seconds=60, clock=clock)
    memory.append("oc_1", "q", "a")
    clock.now += 59
    assert len(memory.load("oc_1")) == 2
    memory.append("oc_1", "q2", "a2")  # activity restarts the idle clock
    clock.now += 59
    assert len(memory.load("oc_1")) == 4
    clock.now += 61
    assert memory.load("oc_1") == []


def test_redis_memory_sets_the_idle_ttl(redis_client: redis_lib.Redis) -> None:
    ConversationMemory(redis_client, max_turns=3, max_tokens=1000, idle_seconds=90).append("oc_1", "q", "a")
    assert 85 <= redis_client.ttl("openclaw:ai:memory:oc_1") <= 90


def test_group_memory_is_per_sender_direct_chat_per_chat() -> None:
    assert key_for(chat_id="oc_g", chat_type="group", open_id="ou_a") != key_for(chat_id="oc_g", chat_type="group", open_id="ou_b")
    assert key_for(chat_id="oc_p", chat_type="p2p", open_id="ou_a") == "oc_p"


def test_token_estimate_counts_chinese_characters() -> None:
    assert estimate_tokens("磁盘满了") == 4 and estimate_tokens("abcdefgh") == 2


def test_rate_limit_per_minute_resets_next_minute(store: redis_lib.Redis | None) -> None:
    clock = Clock()
    limits = Limits(store, per_minute=3, tokens_per_day=0, clock=clock)
    for _ in range(3):
        limits.check_message("ou_a")
    with pytest.raises(LimitExceeded) as info:
        limits.check_message("ou_a")
    assert "3 a minute" in info.value.user_message
    limits.check_message("ou_b")  # others are not affected
    clock.now += 60
    limits.check_message("ou_a")


def test_rate_limit_is_shared_between_processes(redis_client: redis_lib.Redis) -> None:
    one = Limits(redis_client, per_minute=2, tokens_per_day=0)
    two = Limits(redis_lib.Redis.from_url(REDIS_URL), per_minute=2, tokens_per_day=0)  # another client, as in another process
    one.check_message("ou_a")
    two.check_message("ou_a")
    with pytest.raises(LimitExceeded):
        one.check_message("ou_a")


def test_daily_tokens_limit(store: redis_lib.Redis | None) -> None:
    clock = Clock()
    limits = Limits(store, per_minute=0, tokens_per_day=100, clock=clock)
    limits.check_message("ou_a")
    limits.add_tokens("ou_a", 100)
    with pytest.raises(LimitExceeded) as info:
        limits.check_message("ou_a")
    assert "allowance for today" in info.value.user_message
    clock.now += 86400
    limits.check_message("ou_a")


def test_token_limit_off_by_default() -> None:
    limits = Limits(None, per_minute=0, tokens_per_day=0)
    limits.add_tokens("ou_a", 10**9)
    limits.check_message("ou_a")
