"""Conversation memory per chat (per sender inside a group): Redis lists with TTL, else an in-process dict.

Bounded three ways: at most LLM_MEMORY_TURNS exchanges are kept, at most LLM_MEMORY_TOKENS
(estimated) are returned to the prompt, and a conversation idle for LLM_MEMORY_IDLE seconds
is forgotten.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import redis as redis_lib
from flask import current_app

from app.infra.redis import get_redis

EXTENSION = "openclaw.ai.memory"
_PREFIX = "openclaw:ai:memory:"
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")

Turn = dict[str, str]


def estimate_tokens(text: str) -> int:
    """A cheap token estimate: one per CJK character, one per four other characters."""
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk + 3) // 4


def key_for(*, chat_id: str, chat_type: str, open_id: str) -> str:
    """The memory key: the chat in a direct chat, the chat and sender in a group."""
    return f"{chat_id}:{open_id}" if chat_type == "group" else chat_id


class _LocalStore:
    """In-process lists with an idle expiry (embedded mode)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._data: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: str) -> list[str]:
        with self._lock:
            expires, items = self._data.get(key, (0.0, []))
            if expires <= self._clock():
                self._data.pop(key, None)
                return []
            return list(items)

    def push(self, key: str, values: list[str], keep: int, ttl: int) -> None:
        with self._lock:
            now = self._clock()
            expires, items = self._data.get(key, (0.0, []))
            items = (items if expires > now else []) + values
            self._data[key] = (now + ttl, items[-keep:] if keep else [])
            for stale in [k for k, (exp, _) in self._data.items() if exp <= now]:
                del self._data[stale]

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


class ConversationMemory:
    """Load, append and clear a conversation's recent turns."""

    def __init__(self, redis: redis_lib.Redis | None, *, max_turns: int, max_tokens: int, idle_seconds: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._local = _LocalStore(clock)
        self.max_turns, self.max_tokens, self.idle_seconds = max_turns, max_tokens, idle_seconds

    def load(self, key: str) -> list[Turn]:
        """The newest turns, oldest first, within the token budget (whole exchanges only)."""
        if self.max_turns == 0:
            return []
        raw = self._redis.lrange(_PREFIX + key, 0, -1) if self._redis is not None else self._local.get(key)
        turns: list[Turn] = [json.loads(item) for item in raw]
        kept: list[Turn] = []
        budget = self.max_tokens
        for index in range(len(turns) - 2, -1, -2):  # newest exchange first
            pair = turns[index:index + 2]
            cost = sum(estimate_tokens(t["content"]) for t in pair)
            if cost > budget:
                break
            budget -= cost
            kept[:0] = pair
        return kept

    def append(self, key: str, user_text: str, answer: str) -> None:
        """Remember one exchange; trim to max_turns and restart the idle clock."""
        if self.max_turns == 0:
            return
        values = [json.dumps({"role": "user", "content": user_text}, ensure_ascii=False),
                  json.dumps({"role": "assistant", "content": answer}, ensure_ascii=False)]
        keep = self.max_turns * 2
        if self._redis is None:
            self._local.push(key, values, keep, self.idle_seconds)
            return
        pipe = self._redis.pipeline()
        pipe.rpush(_PREFIX + key, *values)
        pipe.ltrim(_PREFIX + key, -keep, -1)
        pipe.expire(_PREFIX + key, self.idle_seconds)
        pipe.execute()

    def clear(self, key: str) -> None:
        """Forget the conversation."""
        if self._redis is None:
            self._local.delete(key)
        else:
            self._redis.delete(_PREFIX + key)


def get_memory() -> ConversationMemory:
    """The app's memory (one per app, so the in-process store lives as long as the app)."""
    memory: ConversationMemory | None = current_app.extensions.get(EXTENSION)
    if memory is None:
        config: dict[str, Any] = current_app.config
        memory = ConversationMemory(
            get_redis(), max_turns=config["LLM_MEMORY_TURNS"], max_tokens=config["LLM_MEMORY_TOKENS"],
            idle_seconds=config["LLM_MEMORY_IDLE"],
        )
        current_app.extensions[EXTENSION] = memory
    return memory
