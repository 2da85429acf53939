"""One JSON object per log record on stdout, ready for ELK (ECS field names).

Each line carries the ECS core fields (`@timestamp`, `log.level`, `log.logger`,
`service.name`, `event.dataset`, `trace.id` inside a request, `event.duration` in
nanoseconds when the record has a `duration_ms`) next to the short names the rest of
the code and its tests already read (`timestamp`, `level`, `logger`, `message`) and
every `extra=` field. deploy/elk/ maps these names; tests/monitoring/test_elk.py checks it.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context

SERVICE_NAME = "openclaw"
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def _request_id() -> str | None:
    if not has_request_context():
        return None
    value = g.get("request_id")
    return str(value) if value else None


class JsonFormatter(logging.Formatter):
    """Render a record and its `extra=` fields as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        level = record.levelname.lower()
        payload: dict[str, Any] = {
            "@timestamp": stamp,
            "log.level": level,
            "log.logger": record.name,
            "service.name": SERVICE_NAME,
            "event.dataset": f"{SERVICE_NAME}.app",
            "process.pid": record.process,
            "timestamp": stamp,
            "level": level,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace = _request_id()
        if trace:
            payload["trace.id"] = trace
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        duration = payload.get("duration_ms")
        if isinstance(duration, (int, float)) and not isinstance(duration, bool):
            payload["event.duration"] = int(duration * 1_000_000)  # ECS: nanoseconds
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
            payload["error.stack_trace"] = payload["exception"]
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(app: Flask, *, to_stderr: bool = False) -> None:
    """Send the root logger to stdout (flask commands: stderr, beside their output) as JSON at LOG_LEVEL, once."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr if to_stderr else sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
