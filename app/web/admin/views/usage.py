"""Model usage: calls, tokens, latency percentiles, slow and failed calls, per model and user, over time."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import abort, current_app, render_template, request

from app.inventory.schema import Role
from app.users.service import display_name
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.admin.charts import calls_chart
from app.web.queries import usage as queries
from app.web.request_args import page_and_size, parse_filter

PERIODS = {"1": "24 hours", "7": "7 days", "30": "30 days"}


@bp.route("/usage")
@requires(Role.AUDITOR)
def usage() -> str:
    """Usage over the last day, week or month (?days=1|7|30)."""
    days = request.args.get("days", "1")
    if days not in PERIODS:
        abort(400, description="days must be 1, 7 or 30")
    now = datetime.now(UTC)
    since = now - timedelta(days=int(days))
    slow_ms = current_app.config["LLM_SLOW_MS"]
    flt = parse_filter(queries.CallFilter)
    summary, buckets = _aggregates(since, now, slow_ms, days)
    return render_template(
        "admin/usage.html", days=days, periods=PERIODS, slow_ms=slow_ms, flt=flt, totals=summary.totals,
        models=summary.per_model, users=summary.per_user, clients=summary.per_client, display_name=display_name, chart=calls_chart(buckets),
        calls=queries.list_calls(flt, since, slow_ms, *page_and_size(default=25)),
        heatmap=heat_grid(queries.duration_heatmap(since)), efficiency=queries.token_efficiency(since),
    )


def heat_grid(cells: list[queries.HeatCell]) -> dict[str, object]:
    """Rows of models, columns of statuses, each cell with a 0-4 shade relative to the slowest."""
    statuses = sorted({cell.status for cell in cells})
    models = sorted({cell.model for cell in cells})
    slowest = max((cell.avg_ms for cell in cells), default=0.0) or 1.0
    by_key = {(cell.model, cell.status): cell for cell in cells}
    rows = [(model, [(by_key.get((model, status)), min(4, int(4 * by_key[(model, status)].avg_ms / slowest)))
                     if (model, status) in by_key else (None, 0) for status in statuses]) for model in models]
    return {"statuses": statuses, "rows": rows}


def _aggregates(since: datetime, now: datetime, slow_ms: int, days: str) -> tuple[queries.Summary, list[queries.Bucket]]:
    """Totals and the timeline; a week or a month is cached for a minute (it barely moves in that time)."""
    def compute() -> tuple[queries.Summary, list[queries.Bucket]]:
        return queries.summary(since, slow_ms), queries.timeline(since, now, hourly=days != "30")

    if days == "1":
        return compute()
    return queries.cached(("page", days, slow_ms, int(now.timestamp()) // 60), compute)
