"""/healthz (alive), /readyz (database and Redis reachable), /metrics (Prometheus)."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from app.infra import metrics
from app.infra.db import db
from app.infra.redis import get_redis

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    redis = get_redis()
    if redis is not None:
        try:
            redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    if current_app.config.get("READYZ_CHECK_MODEL"):
        from app.monitoring.reachability import model_upstream

        reach = model_upstream(current_app.config)
        checks["model"] = "ok" if reach.ok else f"error: {reach.detail or reach.state}"
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not ready", "checks": checks}
    if _longconn_wanted():
        # Reported, not gating: the connector is its own service, and this web process can
        # serve the admin pages and alert webhooks while it reconnects.
        from app.feishu.longconn import status as longconn_status

        body["feishu_longconn"] = longconn_status.summary()
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    return response


@bp.get("/metrics")
def metrics_view() -> Response:
    from app.monitoring.scrape import refresh

    body, content_type = metrics.render(refresh)
    if _longconn_wanted():
        from app.feishu.longconn import metrics as longconn_metrics

        body += longconn_metrics.render()
    return Response(body, content_type=content_type)


def _longconn_wanted() -> bool:
    config = current_app.config
    return config.get("FEISHU_TRANSPORT") == "longconn" and bool(config.get("FEISHU_APP_ID"))
