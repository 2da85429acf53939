"""/api/v1/usage: model call statistics, and the calls themselves."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import abort, current_app, jsonify, request

from app.ai.models import LLMCall
from app.inventory.schema import Role
from app.web.api import bp
from app.web.api.auth import requires
from app.web.api.common import iso, paged
from app.web.queries import usage as queries
from app.web.request_args import page_and_size, parse_filter


def _since() -> tuple[datetime, datetime, int]:
    raw = request.args.get("days", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 90:
        abort(400, description="days must be a whole number from 1 to 90")
    now = datetime.now(UTC)
    return now - timedelta(days=int(raw)), now, int(raw)


def call_json(call: LLMCall) -> dict[str, Any]:
    """One model call."""
    return {"id": call.id, "timestamp": iso(call.timestamp), "request_id": call.request_id, "user_id": call.user_id,
            "client": call.client, "provider": call.provider, "model": call.model, "upstream": call.upstream,
            "input_tokens": call.input_tokens, "tokens_estimated": bool(call.tokens_estimated),
            "output_tokens": call.output_tokens, "duration_ms": call.duration_ms, "ttft_ms": call.ttft_ms,
            "status": str(call.status), "error": call.error, "tags": list(call.tags or [])}


@bp.get("/usage")
@requires(Role.AUDITOR)
def usage_summary() -> Any:
    """Totals, per model, per user, per client (bot or gateway token) and model, and per hour over ?days=."""
    since, now, days = _since()
    slow_ms = current_app.config["LLM_SLOW_MS"]

    def compute() -> dict[str, Any]:
        summary = queries.summary(since, slow_ms)
        return {"since": iso(since), "slow_ms": slow_ms, "totals": summary.totals.as_dict(),
                "per_model": [s.as_dict() for s in summary.per_model],
                "per_user": [s.as_dict() for s in summary.per_user],
                "per_client": [s.as_dict() for s in summary.per_client],
                "timeline": [b.__dict__ for b in queries.timeline(since, now, hourly=days <= 7)]}

    if days == 1:
        return jsonify(compute())
    return jsonify(queries.cached(("api", days, slow_ms, int(now.timestamp()) // 60), compute))


@bp.get("/usage/calls")
@requires(Role.AUDITOR)
def usage_calls() -> Any:
    """Calls over ?days=, newest first; ?status=ok|error&slow=1&model=&user=&client=."""
    since, _now, _days = _since()
    flt = parse_filter(queries.CallFilter)
    return paged(queries.list_calls(flt, since, current_app.config["LLM_SLOW_MS"], *page_and_size()), call_json)
