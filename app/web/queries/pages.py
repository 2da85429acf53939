"""Page: one page of a list, fetched as per_page + 1 rows so no COUNT(*) is needed."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select

from app.infra.db import db

T = TypeVar("T")

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    """Items of page `page` (1-based) and whether more follow."""

    items: Sequence[T]
    page: int
    per_page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        """True past the first page."""
        return self.page > 1


def page_args(args: Mapping[str, Any], *, default: int = 50) -> tuple[int, int]:
    """(page, per_page) from ?page=&per_page=, clamped; ValueError when not integers."""
    page = int(args.get("page") or 1)
    per_page = int(args.get("per_page") or default)
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"page must be >= 1 and per_page between 1 and {MAX_PER_PAGE}")
    if page > 100_000:
        raise ValueError("page is too large")
    return page, per_page


def paginate(query: Select[Any], page: int, per_page: int, *, scalars: bool = True) -> Page[Any]:
    """Run query for one page."""
    limited = query.limit(per_page + 1).offset((page - 1) * per_page)
    result = db.session.execute(limited)
    rows = list(result.scalars() if scalars else result.all())
    return Page(rows[:per_page], page, per_page, len(rows) > per_page)
