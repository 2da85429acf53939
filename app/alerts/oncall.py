"""Who is on call: rotations computed from a fixed epoch, so every process agrees without state.

Shifts hand over at local midnight (TIMEZONE), weekly ones on Mondays: counted in local
calendar days, so a daylight-saving change never moves a hand-over off midnight.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app import localtime
from app.inventory.schema import Inventory, Schedule

EPOCH = date(2024, 1, 1)  # a Monday: weekly shifts change on Mondays
_SHIFT_DAYS = {"daily": 1, "weekly": 7}


@dataclass(frozen=True)
class OnCall:
    """The person on call at a moment, when the shift ends and who takes over."""

    schedule: str
    now: str
    next: str
    shift_ends: datetime


def shift_index(schedule: Schedule, when: datetime) -> int:
    """How many shifts have started since the epoch, at when."""
    return (localtime.local(when).date() - EPOCH).days // _SHIFT_DAYS[schedule.rotation]


def _shift_start(schedule: Schedule, index: int) -> datetime:
    """When shift number index begins: local midnight, in UTC."""
    day = EPOCH + timedelta(days=index * _SHIFT_DAYS[schedule.rotation])
    return datetime(day.year, day.month, day.day, tzinfo=localtime.zone()).astimezone(UTC)


def person_at(schedule: Schedule, when: datetime, offset: int = 0) -> str:
    """The member on call at when; offset 1 is the next one in rotation order."""
    members = schedule.members
    return members[(shift_index(schedule, when) + offset) % len(members)]


def on_call(name: str, schedule: Schedule, when: datetime) -> OnCall:
    """Now, next, and when the current shift ends."""
    index = shift_index(schedule, when)
    ends = _shift_start(schedule, index + 1)
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
