"""llm_calls rows for gateway calls, written in batches by one background thread per process.

A row per call committed on the request path costs a database round trip and a commit
(~1-2 ms, more under load) on every answer; batching them (one INSERT of many rows every
BATCH_SECONDS) keeps that off the latency clients see. The JSON log line is still written
at once, per call. Rows still queued are written at process exit.
"""
from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from flask import Flask, current_app
from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from app.ai.models import LLMCall
from app.infra.db import db

logger = logging.getLogger(__name__)

EXTENSION = "openclaw.gateway.meter"
BATCH_SECONDS = 0.2
MAX_PENDING = 50_000  # beyond this (the database is down) rows are dropped, the log lines remain


class RowWriter:
    """Queue rows; a daemon thread inserts what is queued every BATCH_SECONDS."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._flushing = threading.Lock()  # one flush at a time: a caller's flush() waits for the thread's
        self._thread: threading.Thread | None = None
        atexit.register(self.flush)

    def put(self, fields: dict[str, Any]) -> None:
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                logger.error("llm call row dropped: too many waiting", extra={"request_id": fields.get("request_id")})
                return
            self._pending.append(fields)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="gateway-meter", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(BATCH_SECONDS)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Insert every queued row now; how many were written."""
        with self._flushing:
            return self._write()

    def _write(self) -> int:
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return 0
        with self._app.app_context():
            try:
                return self._insert(rows)
            finally:
                db.session.remove()

    def _insert(self, rows: list[dict[str, Any]]) -> int:
        """All rows in one INSERT; when that fails, one at a time, so one bad row costs only itself."""
        try:
            db.session.execute(insert(LLMCall), rows)
            db.session.commit()
            return len(rows)
        except SQLAlchemyError as exc:
            db.session.rollback()
            if len(rows) == 1:
                logger.error("llm call row not written", extra={"request_id": rows[0].get("request_id"),
                                                                "error": str(exc)[:200]})
                return 0
        return sum(self._insert([row]) for row in rows)


def get_writer() -> RowWriter:
    """The app's row writer."""
    writer: RowWriter | None = current_app.extensions.get(EXTENSION)
    if writer is None:
        writer = current_app.extensions.setdefault(EXTENSION, RowWriter(current_app._get_current_object()))  # type: ignore[attr-defined]
    return writer
