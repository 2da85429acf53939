"""The Redis dedup window: fold repeats, restart on remember, and never revive a closed alert."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.alerts import window

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def test_only_fingerprints_remembered_within_the_window_are_folded(redis_client: Any) -> None:
    assert window.fold_known(redis_client, {"fp-a": 1}, 300, NOW) == {}
    window.remember(redis_client, {"fp-a": 11}, 300)
    assert window.fold_known(redis_client, {"fp-a": 2, "fp-b": 1}, 300, NOW) == {"fp-a": 11}
    assert redis_client.hget(window.COUNTS, "11") == b"2"
    window.unfold(redis_client, {"fp-a": 11}, {"fp-a": 2})
    assert redis_client.hget(window.COUNTS, "11") == b"0"
    assert 0 < redis_client.ttl(window.SEEN + "fp-a") <= 300


def test_a_late_remember_after_a_resolve_does_not_revive_the_closed_alert(redis_client: Any) -> None:
    window.remember(redis_client, {"fp-a": 11}, 300)
    window.forget(redis_client, [("fp-a", 11)], 300)
    window.remember(redis_client, {"fp-a": 11}, 300)  # a slower request that wrote before the resolve
    assert window.fold_known(redis_client, {"fp-a": 1}, 300, NOW) == {}
    window.remember(redis_client, {"fp-a": 12}, 300)  # the next occurrence
    assert window.fold_known(redis_client, {"fp-a": 1}, 300, NOW) == {"fp-a": 12}
