"""Per-request metrics and the request id: route templates only, never raw paths."""
from __future__ import annotations

import re
import time
import uuid

from flask import Flask, Response, g, request

from app.infra import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED = "<unmatched>"


def route_template() -> str:
    """The matched URL rule ('/admin/alerts/<int:alert_id>'), or a fixed label for 404s."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def request_id() -> str | None:
    """This request's id (from the proxy's X-Request-ID when it is sane, else a new one)."""
    return g.get("request_id")


def _start() -> None:
    g.request_started = time.perf_counter()
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    started = g.get("request_started")
    if started is None:  # a request that failed before before_request ran
        return response
    route, method, status = route_template(), request.method, response.status_code
    metrics.HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    metrics.REQUEST_DURATION.labels(route=route, method=method).observe(time.perf_counter() - started)
    if status >= 500:
        metrics.count_error("http", f"status_{status}")
    response.headers.setdefault(REQUEST_ID_HEADER, g.request_id)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
