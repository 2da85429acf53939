"""Fold one request's alerts before they reach the database: repeats add up, order is kept.

A statement may not touch the same open alert twice, so a request is cut into
segments in which each fingerprint appears with one status only; a fingerprint
that fires, resolves and fires again in one request spans three segments.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.alerts.types import AlertIn, AlertStatus


@dataclass
class Folded:
    """The latest report of a fingerprint in a segment and how many reports it stands for."""

    alert: AlertIn
    times: int = 1


@dataclass
class Segment:
    """Firing and resolved reports for distinct fingerprints; applied in order."""

    firing: dict[str, Folded] = field(default_factory=dict)
    resolved: dict[str, AlertIn] = field(default_factory=dict)


def segments(alerts: Iterable[AlertIn]) -> list[Segment]:
    """Cut alerts into segments; a repeated firing fingerprint inside one segment is folded."""
    result = [Segment()]
    for alert in alerts:
        current = result[-1]
        fp = alert.fingerprint
        if alert.status is AlertStatus.RESOLVED:
            if fp in current.firing:
                current = Segment()
                result.append(current)
            current.resolved[fp] = alert
        else:
            if fp in current.resolved:
                current = Segment()
                result.append(current)
            folded = current.firing.get(fp)
            current.firing[fp] = Folded(alert, folded.times + 1 if folded else 1)
    return [s for s in result if s.firing or s.resolved]


def is_reminder(prev_seen: datetime | None, now: datetime, window_seconds: int) -> bool:
    """A repeat of an open alert after a quiet gap longer than the dedup window notifies again."""
    return prev_seen is not None and now - prev_seen > timedelta(seconds=window_seconds)
