"""Which lane the current work is in: a person waiting for an answer, or bulk work that can yield.

Outbound limits (Feishu's 50 calls/s per app, 5/s per chat) are shared by everything the
bot sends. Bulk work (alert notifications and card refreshes, storm summaries,
reminders, reports) runs in the BULK lane and may use only part of each limit, so a
reply to a person or a card update for a click always finds a free slot. The lane is a
context variable: a job declared with `@job(..., lane=Lane.BULK)` runs in it, and code
can enter it with `with bulk():`.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum


class Lane(StrEnum):
    INTERACTIVE = "interactive"
    BULK = "bulk"


_current: ContextVar[Lane] = ContextVar("openclaw_lane", default=Lane.INTERACTIVE)


def current() -> Lane:
    """The lane of the work running in this thread (interactive unless said otherwise)."""
    return _current.get()


@contextmanager
def lane(value: Lane) -> Iterator[None]:
    """Run the block in lane value."""
    token = _current.set(value)
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def bulk() -> Iterator[None]:
    """Run the block in the bulk lane."""
    with lane(Lane.BULK):
        yield


def share(rate: int, reserve: int) -> int:
    """The part of a limit of `rate` calls the current lane may use: bulk leaves `reserve` free."""
    if current() is Lane.BULK:
        return max(1, rate - reserve)
    return rate
