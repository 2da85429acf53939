"""Model usage from llm_calls: totals, latency percentiles, per model and per user, calls over time."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import BigInteger, ColumnElement, Select, case, cast, func, literal_column, select, text

from app.ai.models import CallStatus, LLMCall
from app.infra.db import db, is_postgres
from app.web.queries.pages import Page, paginate

QUANTILES = (0.5, 0.95, 0.99)
T = TypeVar("T")


@dataclass(frozen=True)
class Stats:
    """Calls, failures, slow calls, tokens and latency percentiles (ms) for one group."""

    key: str
    calls: int
    failed: int
    slow: int
    input_tokens: int
    output_tokens: int
    p50: float | None
    p95: float | None
    p99: float | None

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Bucket:
    """Calls started in one hour (or day) and their p95 latency."""

    start: str
    calls: int
    failed: int
    p95: float | None


def _percentile(quantile: float) -> ColumnElement[Any]:
    return func.percentile_cont(quantile).within_group(LLMCall.duration_ms)


def _nearest_rank(values: list[float], quantile: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(quantile * len(ordered)) - 1))
    return ordered[index]


_PG_SETS = text("""
SELECT GROUPING(model) AS by_model, GROUPING(COALESCE(user_id, '-')) AS by_user, GROUPING(client) AS by_client,
       model, COALESCE(user_id, '-') AS user_key, client, count(*) AS calls,
       sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS failed,
       sum(CASE WHEN duration_ms > :slow_ms THEN 1 ELSE 0 END) AS slow,
       COALESCE(sum(input_tokens), 0) AS input_tokens, COALESCE(sum(output_tokens), 0) AS output_tokens,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS q0,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS q1,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS q2
FROM llm_calls WHERE timestamp >= :since
GROUP BY GROUPING SETS ((), (model), (COALESCE(user_id, '-')), (client, model))
""")


@dataclass(frozen=True)
class ClientStats(Stats):
    """Stats for one client (the bot, or a gateway API token's name) on one model."""

    model: str = ""


@dataclass(frozen=True)
class Summary:
    """Everything since a moment: totals, then per model, per user and per client and model (busiest first)."""

    totals: Stats
    per_model: list[Stats]
    per_user: list[Stats]
    per_client: list[ClientStats]


_CACHE_LOCK = threading.Lock()
CACHE_SECONDS = 60.0


def cached(key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """compute() remembered for CACHE_SECONDS by this app in this process (month-long windows move slowly)."""
    cache: dict[tuple[Any, ...], tuple[float, Any]] = current_app.extensions.setdefault("openclaw.usage_cache", {})
    now = time.monotonic()
    with _CACHE_LOCK:
        hit = cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]  # type: ignore[no-any-return]
    value = compute()
    with _CACHE_LOCK:
        if len(cache) > 64:
            cache.clear()
        cache[key] = (now, value)
    return value


def _empty(key: str) -> Stats:
    return Stats(key, 0, 0, 0, 0, 0, None, None, None)


def summary(since: datetime, slow_ms: int) -> Summary:
    """Totals, per model and per user, in one pass over the window on PostgreSQL."""
    if not is_postgres():
        found = [s for s in _grouped(None, since, slow_ms) if s.calls]
        pairs = _grouped(LLMCall.client + literal_column("'\t'") + LLMCall.model, since, slow_ms)
        clients = [ClientStats(**{**s.as_dict(), "key": s.key.split("\t", 1)[0], "model": s.key.split("\t", 1)[-1]})
                   for s in pairs]
        return Summary(found[0] if found else _empty("all"), _grouped(LLMCall.model, since, slow_ms),
                       _grouped(func.coalesce(LLMCall.user_id, "-"), since, slow_ms), clients)
    totals, models, users, clients = _empty("all"), [], [], []
    for row in db.session.execute(_PG_SETS, {"since": since, "slow_ms": slow_ms}):
        numbers = (row.calls, row.failed or 0, row.slow or 0, row.input_tokens, row.output_tokens,
                   _round(row.q0), _round(row.q1), _round(row.q2))
        if not row.by_client:
            clients.append(ClientStats(str(row.client), *numbers, model=str(row.model)))
        elif not row.by_model:
            models.append(Stats(str(row.model), *numbers))
        elif not row.by_user:
            users.append(Stats(str(row.user_key), *numbers))
        else:
            totals = Stats("all", *numbers)
    return Summary(totals, sorted(models, key=lambda s: -s.calls), sorted(users, key=lambda s: -s.calls),
                   sorted(clients, key=lambda s: -s.calls))


def _grouped(group: Any | None, since: datetime, slow_ms: int) -> list[Stats]:
    """Stats per value of group (None: one row for everything), percentiles computed here (SQLite)."""
    key = group if group is not None else literal_column("'all'")
    base: Select[Any] = select(
        key.label("key"), func.count().label("calls"),
        func.sum(case((LLMCall.status == CallStatus.ERROR.value, 1), else_=0)).label("failed"),
        func.sum(case((LLMCall.duration_ms > slow_ms, 1), else_=0)).label("slow"),
        func.coalesce(func.sum(LLMCall.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(LLMCall.output_tokens), 0).label("output_tokens"),
    ).where(LLMCall.timestamp >= since)
    if group is not None:
        base = base.group_by(group).order_by(func.count().desc())
    rows = list(db.session.execute(base))
    durations: dict[str, list[float]] = {}
    for value, duration in db.session.execute(select(key, LLMCall.duration_ms).where(LLMCall.timestamp >= since)):
        durations.setdefault(str(value), []).append(duration)
    return [Stats(str(r.key), r.calls, r.failed or 0, r.slow or 0, r.input_tokens, r.output_tokens,
                  *(_round(_nearest_rank(durations.get(str(r.key), []), q)) for q in QUANTILES)) for r in rows]


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def timeline(since: datetime, now: datetime, *, hourly: bool) -> list[Bucket]:
    """Calls per hour (or per day) from since to now, empty buckets included."""
    size = 3600 if hourly else 86400
    bucket: ColumnElement[Any]
    if is_postgres():  # whole seconds since the epoch // bucket size: cheaper than date_trunc + to_char per row
        bucket = cast(func.extract("epoch", LLMCall.timestamp), BigInteger) // size
    else:
        bucket = cast(func.strftime("%s", LLMCall.timestamp), BigInteger) // size
    query = select(bucket.label("b"), func.count(), func.sum(case((LLMCall.status == CallStatus.ERROR.value, 1), else_=0))
                   ).where(LLMCall.timestamp >= since).group_by(bucket)
    if is_postgres():
        query = query.add_columns(_percentile(0.95))
    found = {int(row[0]): row for row in db.session.execute(query)}
    fmt = "%Y-%m-%dT%H:00" if hourly else "%Y-%m-%d"
    buckets = []
    for index in range(int(since.timestamp()) // size, int(now.timestamp()) // size + 1):
        key = datetime.fromtimestamp(index * size, UTC).strftime(fmt)
        row = found.get(index)
        p95 = _round(row[3]) if row is not None and len(row) > 3 else None
        buckets.append(Bucket(key, row[1] if row else 0, (row[2] or 0) if row else 0, p95))
    return buckets


@dataclass(frozen=True)
class CallFilter:
    """Which calls to list: failed only, slow only, one model, one user."""

    status: str | None = None
    slow: bool = False
    model: str | None = None
    user: str | None = None
    client: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> CallFilter:
        """From request args; ValueError naming a bad value."""
        status = (args.get("status") or "").strip() or None
        if status is not None and status not in (CallStatus.OK.value, CallStatus.ERROR.value):
            raise ValueError("status must be ok or error")
        slow = (args.get("slow") or "").strip().lower() in ("1", "true", "yes", "on")
        return cls(status=status, slow=slow, model=(args.get("model") or "").strip()[:128] or None,
                   user=(args.get("user") or "").strip()[:128] or None,
                   client=(args.get("client") or "").strip()[:64] or None)


def list_calls(flt: CallFilter, since: datetime, slow_ms: int, page: int, per_page: int) -> Page[LLMCall]:
    """Calls since `since` matching flt, newest first."""
    query = select(LLMCall).where(LLMCall.timestamp >= since).order_by(LLMCall.timestamp.desc(), LLMCall.id.desc())
    if flt.status:
        query = query.where(LLMCall.status == flt.status)
    if flt.slow:
        query = query.where(LLMCall.duration_ms > slow_ms)
    if flt.model:
        query = query.where(LLMCall.model == flt.model)
    if flt.user:
        query = query.where(LLMCall.user_id == flt.user)
    if flt.client:
        query = query.where(LLMCall.client == flt.client)
    return paginate(query, page, per_page)


@dataclass(frozen=True)
class HeatCell:
    """Average duration (ms) and call count of one model with one status."""

    model: str
    status: str
    calls: int
    avg_ms: float


@dataclass(frozen=True)
class Efficiency:
    """Output tokens per input token for one model: the average of calls and the overall ratio."""

    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    avg_efficiency: float | None
    overall: float | None


def duration_heatmap(since: datetime) -> list[HeatCell]:
    """Average duration by model and status (the Kibana heatmap, computed from llm_calls)."""
    rows = db.session.execute(
        select(LLMCall.model, LLMCall.status, func.count(), func.avg(LLMCall.duration_ms))
        .where(LLMCall.timestamp >= since).group_by(LLMCall.model, LLMCall.status)
        .order_by(LLMCall.model, LLMCall.status)
    ).all()
    return [HeatCell(model, str(status), int(calls), round(float(avg), 1)) for model, status, calls, avg in rows]


def token_efficiency(since: datetime) -> list[Efficiency]:
    """Per model: calls, tokens in and out, mean token efficiency and total output / total input."""
    rows = db.session.execute(
        select(LLMCall.model, func.count(), func.coalesce(func.sum(LLMCall.input_tokens), 0),
               func.coalesce(func.sum(LLMCall.output_tokens), 0), func.avg(LLMCall.token_efficiency))
        .where(LLMCall.timestamp >= since).group_by(LLMCall.model).order_by(func.count().desc())
    ).all()
    return [Efficiency(model, int(calls), int(tokens_in), int(tokens_out),
                       None if avg is None else round(float(avg), 4),
                       round(tokens_out / tokens_in, 4) if tokens_in else None)
            for model, calls, tokens_in, tokens_out, avg in rows]
