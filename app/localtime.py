"""The team's local time (TIMEZONE, any IANA name): when days and weeks start, and how times read.

Storage stays UTC. Local time decides where a day or week begins (on-call hand-overs,
daily quotas, weekly figures and reports) and how a moment is shown in cards and pages.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context

DEFAULT = "Asia/Shanghai"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def check(name: str) -> str | None:
    """Why name is not a usable IANA time zone, or None."""
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r} (expected an IANA name such as Asia/Shanghai or UTC)"
    return None


def zone() -> ZoneInfo:
    """The configured zone (the default outside an app context)."""
    name = current_app.config.get("TIMEZONE", DEFAULT) if has_app_context() else DEFAULT
    return _zone(name)


def local(moment: datetime) -> datetime:
    """moment in local time (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone())


def day_start(moment: datetime) -> datetime:
    """Local midnight that begins moment's day, in UTC."""
    here = local(moment)
    return here.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 local time that begins moment's week, in UTC."""
    here = local(moment)
    monday = (here - timedelta(days=here.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    # Rebuild from the wall-clock date so a DST change inside the week cannot shift midnight.
    return datetime(monday.year, monday.month, monday.day, tzinfo=here.tzinfo).astimezone(UTC)


def week_label(start: datetime) -> str:
    """ISO week name of a week start, e.g. 2026-W49."""
    year, week, _ = local(start).isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(label: str) -> datetime:
    """The UTC start of an ISO week named like 2026-W49; ValueError when it is not one."""
    try:
        year, week = label.upper().split("-W")
        monday = datetime.fromisocalendar(int(year), int(week), 1)
    except (ValueError, TypeError):
        raise ValueError(f"expected a week like 2026-W49, got {label!r}") from None
    return datetime(monday.year, monday.month, monday.day, tzinfo=zone()).astimezone(UTC)


def fmt(moment: datetime | None, *, seconds: bool = False) -> str:
    """A moment as people read it here: 2026-12-04 09:30 CST."""
    if moment is None:
        return "-"
    here = local(moment)
    return here.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")
