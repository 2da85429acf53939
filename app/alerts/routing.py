"""Matchers and the first-match-wins route table (alerting.routes)."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from app.inventory.schema import Route

_MATCHER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(=~|!=|=)(.*)$")


def matches(matchers: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Every matcher equals the label (a missing label is empty); no matchers match everything."""
    return all(labels.get(key, "") == value for key, value in matchers.items())


def first_route(routes: Sequence[Route], labels: Mapping[str, str]) -> tuple[int, Route] | None:
    """The first route whose match fits, with its index; None when none does."""
    for index, route in enumerate(routes):
        if matches(route.match, labels):
            return index, route
    return None


def parse_matchers(text: str) -> dict[str, str]:
    """`alertname=DiskFull,host=web-01` as a dict; ValueError naming the bad part."""
    result: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        found = _MATCHER.match(part)
        if not found or found.group(2) != "=":
            raise ValueError(f"bad matcher {part!r}: use name=value, separated by commas")
        name, value = found.group(1), found.group(3).strip().strip('"')
        if not value:
            raise ValueError(f"matcher {part!r} needs a value")
        result[name] = value
    if not result:
        raise ValueError("give at least one matcher, e.g. alertname=DiskFull,host=web-01")
    return result


def format_matchers(matchers: Mapping[str, str]) -> str:
    """The inverse of parse_matchers."""
    return ",".join(f"{k}={v}" for k, v in sorted(matchers.items()))
