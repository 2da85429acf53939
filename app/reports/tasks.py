"""Report jobs: keep the response-time gauges on /metrics current."""
from __future__ import annotations

from datetime import timedelta

from app.infra import metrics
from app.infra.db import utcnow
from app.infra.lanes import Lane
from app.infra.queue import job
from app.reports import response

GAUGE_WINDOW = timedelta(days=7)


@job("default", timeout=120, lane=Lane.BULK)
def update_response_gauges() -> int:
    """Set openclaw_response_seconds from the last 7 days (rolling), overall and per severity."""
    now = utcnow()
    figures = response.compute(now - GAUGE_WINDOW, now)
    groups = [("all", figures.overall), *((g.key, g) for g in figures.by_severity)]
    for severity, group in groups:
        for measure in ("mtta", "mttr", "incidents"):
            values = getattr(group, measure).as_dict()
            for quantile in ("p50", "p90"):
                gauge = metrics.RESPONSE_SECONDS.labels(measure=measure, severity=severity, quantile=quantile[1:])
                gauge.set(values[quantile] if values[quantile] is not None else float("nan"))
    return len(groups)
