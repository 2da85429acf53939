"""A small PNG of a Prometheus alert's expression over the last hour, for its card.

The expression comes from the alert's generatorURL (Prometheus puts `g0.expr` there).
The picture is rendered with matplotlib's Agg backend (no display), uploaded once
and its image_key cached per alert; a card refresh re-renders it when it is older
than ALERT_GRAPH_REFRESH seconds. Any failure leaves the card without a picture.
"""
from __future__ import annotations

import io
import json
import logging
import math
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
from flask import current_app

from app.alerts.models import Alert

logger = logging.getLogger(__name__)

WINDOW = 3600  # seconds of history shown
STEP = 60
MAX_SERIES = 5
_KEY = "openclaw:alert-graph:{alert_id}"
_local: dict[int, tuple[str, float]] = {}
_local_lock = threading.Lock()


class GraphUnavailable(Exception):
    """No picture could be made (no expression, Prometheus down, nothing to plot)."""


def expression_of(alert: Alert) -> str | None:
    """The PromQL of a Prometheus alert, from its generatorURL's g0.expr."""
    if not alert.generator_url:
        return None
    values = parse_qs(urlparse(alert.generator_url).query).get("g0.expr")
    return values[0].strip() if values and values[0].strip() else None


def query_range(base_url: str, expr: str, *, end: float, timeout: float) -> list[tuple[str, list[tuple[float, float]]]]:
    """(legend, [(t, value)]) per series of expr over the WINDOW before end."""
    try:
        response = requests.get(base_url.rstrip("/") + "/api/v1/query_range", timeout=timeout,
                                params={"query": expr, "start": f"{end - WINDOW:.3f}", "end": f"{end:.3f}",
                                        "step": str(STEP)})
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise GraphUnavailable(f"Prometheus unreachable: {type(exc).__name__}") from None
    if not isinstance(body, dict) or body.get("status") != "success" or body["data"].get("resultType") != "matrix":
        raise GraphUnavailable(f"Prometheus answered HTTP {response.status_code} without a matrix")
    series = []
    for item in body["data"]["result"][:MAX_SERIES]:
        labels = {k: v for k, v in (item.get("metric") or {}).items() if k != "__name__"}
        legend = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))[:60] or expr[:60]
        points = []
        for stamp, raw in item.get("values") or []:
            try:
                value = float(raw)
            except (TypeError, ValueError):
                continue
            if not (math.isnan(value) or math.isinf(value)):
                points.append((float(stamp), value))
        if points:
            series.append((legend, points))
    if not series:
        raise GraphUnavailable("the expression has no data in the last hour")
    return series


Series = list[tuple[str, list[tuple[float, float]]]]


def render_png(series: Series, title: str) -> bytes:
    """A 600x240 PNG line chart (one line per series, minutes ago on the x axis)."""
    return render_panels([(title, series)])


def render_panels(panels: list[tuple[str, Series]]) -> bytes:
    """A 600x240 PNG with one small chart per panel, side by side."""
    from matplotlib.figure import Figure  # Figure + Agg canvas: no pyplot global state, thread-safe

    figure = Figure(figsize=(6, 2.4), dpi=100)
    end = max(t for _, series in panels for _, points in series for t, _ in points)
    for index, (title, series) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        for legend, points in series:
            axes.plot([(t - end) / 60 for t, _ in points], [v for _, v in points], linewidth=1.2, label=legend)
        axes.set_title(title[:80], fontsize=9)
        axes.set_xlabel("minutes ago", fontsize=8)
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3)
        if len(series) > 1:
            axes.legend(fontsize=6, loc="upper left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _cached(alert_id: int) -> tuple[str, float] | None:
    from app.infra.redis import get_redis

    redis = get_redis()
    if redis is None:
        with _local_lock:
            return _local.get(alert_id)
    raw = redis.get(_KEY.format(alert_id=alert_id))
    if not raw:
        return None
    data = json.loads(raw)
    return str(data["key"]), float(data["at"])


def _store(alert_id: int, key: str, at: float) -> None:
    from app.infra.redis import get_redis

    redis = get_redis()
    if redis is None:
        with _local_lock:
            _local[alert_id] = (key, at)
        return
    redis.set(_KEY.format(alert_id=alert_id), json.dumps({"key": key, "at": at}), ex=86400)


def image_key(alert: Alert, *, refresh: bool = False, now: float | None = None) -> str | None:
    """The alert's graph as an image_key (cached; re-rendered on refresh when stale); None when there is none."""
    config = current_app.config
    max_age = config["ALERT_GRAPH_REFRESH"]
    base_url = config.get("PROMETHEUS_URL")
    expr = expression_of(alert)
    if not max_age or not base_url or not expr or not config.get("FEISHU_APP_ID"):
        return None
    now = time.time() if now is None else now
    try:
        cached = _cached(alert.id)
        if cached and (not refresh or now - cached[1] < max_age):
            return cached[0]
        from app.feishu.images import upload_png
        from app.feishu.wiring import get_client

        series = query_range(base_url, expr, end=now, timeout=config["PROMETHEUS_TIMEOUT"])
        key = upload_png(get_client(), render_png(series, expr))
        _store(alert.id, key, now)
        return key
    except Exception as exc:  # a card without a picture beats no card
        logger.warning("alert graph not attached", extra={"alert_id": alert.id, "reason": str(exc)[:200]})
        return None


def attach(card: dict[str, Any], key: str | None, alt: str = "the alert's expression over the last hour") -> dict[str, Any]:
    """The card with an img element before its buttons (or at the end); the card itself when key is None."""
    if key is None:
        return card
    elements = card.get("body", {}).get("elements")
    if not isinstance(elements, list):
        return card
    image = {"tag": "img", "img_key": key, "alt": {"tag": "plain_text", "content": alt},
             "scale_type": "fit_horizontal", "preview": True}
    index = next((i for i, e in enumerate(elements) if isinstance(e, dict) and e.get("tag") == "column_set"),
                 len(elements))
    return {**card, "body": {**card["body"], "elements": [*elements[:index], image, *elements[index:]]}}
