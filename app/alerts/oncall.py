"""Who is on call: rotations computed from a fixed epoch, so every process agrees without state."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.inventory.schema import Inventory, Schedule

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday, 00:00 UTC: weekly shifts change on Mondays
_SHIFT = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1)}


@dataclass(frozen=True)
class OnCall:
    """The person on call at a moment, when the shift ends and who takes over."""

    schedule: str
    now: str
    next: str
    shift_ends: datetime


def shift_index(schedule: Schedule, when: datetime) -> int:
    """How many shifts have started since the epoch, at when."""
    return int((when - EPOCH) // _SHIFT[schedule.rotation])


def person_at(schedule: Schedule, when: datetime, offset: int = 0) -> str:
    """The member on call at when; offset 1 is the next one in rotation order."""
    members = schedule.members
    return members[(shift_index(schedule, when) + offset) % len(members)]


def on_call(name: str, schedule: Schedule, when: datetime) -> OnCall:
    """Now, next, and when the current shift ends."""
    index = shift_index(schedule, when)
    ends = EPOCH + _SHIFT[schedule.rotation] * (index + 1)
    return OnCall(name, person_at(schedule, when), person_at(schedule, when, 1), ends)


def schedule_for(inventory: Inventory, *, service: str | None, labels: dict[str, str]) -> str | None:
    """The schedule responsible: the service's, an `oncall` label naming one, or the only one there is."""
    if service and service in inventory.services and inventory.services[service].oncall:
        return inventory.services[service].oncall
    named = labels.get("oncall")
    if named and named in inventory.oncall:
        return named
    if len(inventory.oncall) == 1:
        return next(iter(inventory.oncall))
    return None
