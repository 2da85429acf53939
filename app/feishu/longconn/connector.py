"""The long-connection client: discover, connect, ping, acknowledge, reconnect.

One connector is one connection. Several may run (at most 50 per app); the
platform gives each event to one of them at random and the inbox's dedup makes a
repeated delivery harmless.

Threads: the connector's own thread reads frames and sends pings; data frames are
handled on a small pool so a slow card handler never delays pings or other acks.
"""
from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from flask import Flask
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from app.feishu.longconn import frames, status
from app.feishu.longconn.endpoint import (
    AUTH_FAILED,
    EXCEED_CONN_LIMIT,
    FORBIDDEN,
    ClientConfig,
    ConnectError,
    Endpoint,
    discover,
)
from app.feishu.longconn.frames import Frame
from app.feishu.longconn.handler import Outcome, handle
from app.infra.db import db

logger = logging.getLogger(__name__)

FRAGMENT_TTL = 5.0  # seconds the platform's split payload parts are kept (as the SDK does)
MAX_FRAME = 8 * 1024 * 1024
STABLE_AFTER = 60.0  # seconds a connection must last before the back-off starts again from the first delay


class _Fragments:
    """Parts of payloads split over several frames (headers sum/seq), reassembled by message_id."""

    def __init__(self) -> None:
        self._parts: dict[str, tuple[float, list[bytes | None]]] = {}

    def add(self, message_id: str, total: int, seq: int, part: bytes, now: float) -> bytes | None:
        self._parts = {k: v for k, v in self._parts.items() if v[0] > now}
        if not 0 <= seq < total:
            raise ValueError(f"seq {seq} outside sum {total}")
        expires, parts = self._parts.get(message_id, (now + FRAGMENT_TTL, [None] * total))
        if len(parts) != total:
            parts = [None] * total
        parts[seq] = part
        if any(p is None for p in parts):
            self._parts[message_id] = (expires, parts)
            return None
        self._parts.pop(message_id, None)
        return b"".join(p for p in parts if p is not None)


def ack_payload(outcome: Outcome) -> bytes:
    """The answer the SDK writes back: {"code", "data": base64(JSON of the handler's result)}."""
    body: dict[str, object] = {"code": outcome.code}
    if outcome.body:
        body["data"] = base64.b64encode(json.dumps(outcome.body, ensure_ascii=False).encode()).decode()
    return json.dumps(body, ensure_ascii=False).encode()


def reconnect_delay(attempt: int, config: ClientConfig, rng: random.Random) -> float:
    """Seconds before reconnect attempt `attempt` (0 first).

    The first waits a random part of ReconnectNonce, so a platform restart does not
    bring every client back in the same second; later ones back off exponentially
    from 2 s up to ReconnectInterval, jittered by up to half.
    """
    if attempt == 0:
        return rng.uniform(0, config.reconnect_nonce)
    ceiling = min(float(config.reconnect_interval), 2.0 ** attempt)
    return ceiling * rng.uniform(0.5, 1.0)


class Connector:
    """Keeps one long connection open until stop() is called or a fatal error happens."""

    def __init__(
        self, app: Flask, *, name: str, base_url: str, app_id: str, app_secret: str,
        rng: random.Random | None = None, handler: Callable[[bytes], Outcome] = handle, workers: int = 4,
    ) -> None:
        self.app = app
        self.base_url = base_url
        self.app_id = app_id
        self.app_secret = app_secret
        self.rng = rng or random.Random()
        self.handler = handler
        self.config = ClientConfig()
        self.status = status.ConnectorStatus(name=name)
        self._stop = threading.Event()
        self._ws: ClientConnection | None = None
        self._write_lock = threading.Lock()
        self._status_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openclaw-longconn")
        self._fragments = _Fragments()

    # --- lifecycle ---------------------------------------------------------------

    def stop(self) -> None:
        """Ask run() to return; closes the connection so a blocked read ends at once."""
        self._stop.set()
        ws = self._ws
        if ws is not None:
            try:
                ws.close()
            except Exception:
                pass

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Connect and serve, reconnecting with back-off; returns on stop(), raises ConnectError when fatal."""
        attempt = 0
        try:
            while not self._stop.is_set():
                try:
                    endpoint = self._open()
                except ConnectError as exc:
                    self._set(state="failed" if exc.fatal else "waiting", last_error=exc.reason)
                    logger.error("long connection could not be opened",
                                 extra={"reason": exc.reason, "fatal": exc.fatal, "attempt": attempt})
                    if exc.fatal:
                        raise
                else:
                    opened = time.monotonic()
                    self._serve(endpoint)
                    if self._stop.is_set():
                        break
                    if time.monotonic() - opened >= STABLE_AFTER:
                        attempt = 0  # it worked for a while: start the back-off afresh
                    self._set(state="waiting")
                if 0 <= self.config.reconnect_count <= attempt:
                    raise ConnectError(f"gave up after {attempt} reconnect attempts (ReconnectCount)")
                delay = reconnect_delay(attempt, self.config, self.rng)
                attempt += 1
                self.status.reconnects += 1
                self._publish()
                logger.info("reconnecting to the long connection", extra={"delay": round(delay, 2), "attempt": attempt})
                self._wait(delay)
        finally:
            self._set(state="stopped" if self._stop.is_set() else self.status.state)
            self._pool.shutdown(wait=True)

    def _wait(self, seconds: float) -> None:
        """Sleep, but keep the published status fresh and wake on stop()."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, status.HEARTBEAT))
            self._publish()

    def _open(self) -> Endpoint:
        self._set(state="connecting")
        endpoint = discover(self.base_url, self.app_id, self.app_secret, config=self.config)
        self.config = endpoint.config
        try:
            # legacy=True: the connection object itself, closed by _serve's `with` (or by stop()).
            self._ws = connect(endpoint.url, open_timeout=10, max_size=MAX_FRAME, proxy=None, legacy=True)
        except InvalidStatus as exc:
            raise _handshake_error(exc) from None
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            raise ConnectError(f"WebSocket handshake failed: {type(exc).__name__}: {exc}") from None
        self._set(state="connected", connected_since=time.time(), last_error=None)
        logger.info("long connection open", extra={"device_id": endpoint.device_id, "service_id": endpoint.service_id})
        return endpoint

    # --- one connection ---------------------------------------------------------

    def _serve(self, endpoint: Endpoint) -> None:
        ws = self._ws
        assert ws is not None
        try:
            with ws:  # closes the connection however the loop ends
                self._loop(ws, endpoint)
        except ConnectionClosed as exc:
            if not self._stop.is_set():
                reason = f"connection closed: code {exc.rcvd.code if exc.rcvd else 'none'}"
                logger.warning("long connection closed", extra={"reason": reason})
                self._set(last_error=reason)
        except OSError as exc:
            self._set(last_error=f"{type(exc).__name__}: {exc}")
        finally:
            self._ws = None
            self._set(state="waiting", connected_since=None)

    def _loop(self, ws: ClientConnection, endpoint: Endpoint) -> None:
        """Read frames until the connection closes, pinging every PingInterval and publishing the status."""
        next_ping = time.monotonic()
        next_publish = time.monotonic() + status.HEARTBEAT
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_ping:
                self._send(frames.encode(frames.ping(endpoint.service_id)))
                next_ping = now + self.config.ping_interval
            if now >= next_publish:
                self._publish()
                next_publish = now + status.HEARTBEAT
            try:
                raw = ws.recv(timeout=max(0.0, min(next_ping, next_publish) - time.monotonic()))
            except TimeoutError:
                continue
            if isinstance(raw, str):
                logger.warning("long connection sent a text message; frames are binary", extra={"chars": len(raw)})
                continue
            self._on_frame(raw, endpoint)

    def _send(self, data: bytes) -> None:
        ws = self._ws
        if ws is None:
            raise ConnectionClosed(None, None)
        with self._write_lock:
            ws.send(data)

    def _on_frame(self, raw: bytes, endpoint: Endpoint) -> None:
        try:
            frame = frames.decode(raw)
        except frames.FrameError as exc:
            logger.warning("malformed long connection frame dropped", extra={"reason": str(exc), "bytes": len(raw)})
            return
        kind = frame.header("type")
        if frame.method == frames.METHOD_CONTROL:
            if kind == "pong":
                self.status.last_pong_at = time.time()
                if frame.payload:
                    try:
                        self.config = ClientConfig.from_json(json.loads(frame.payload), self.config)
                    except (ValueError, UnicodeDecodeError):
                        pass
            return
        if frame.method != frames.METHOD_DATA or kind not in ("event", "card"):
            return
        self.status.last_message_at = time.time()
        payload = self._assemble(frame)
        if payload is None:
            return
        self._pool.submit(self._answer, frame, payload)

    def _assemble(self, frame: Frame) -> bytes | None:
        try:
            total = int(frame.header("sum") or "1")
            seq = int(frame.header("seq") or "0")
        except ValueError:
            return None
        if total <= 1:
            return frame.payload or b""
        try:
            return self._fragments.add(frame.header("message_id") or "", total, seq, frame.payload or b"",
                                       time.monotonic())
        except ValueError as exc:
            logger.warning("bad fragment dropped", extra={"reason": str(exc)})
            return None

    def _answer(self, frame: Frame, payload: bytes) -> None:
        started = time.perf_counter()
        try:
            with self.app.app_context():
                try:
                    outcome = self.handler(payload)
                finally:
                    db.session.remove()
        except Exception:
            logger.exception("long connection handler failed")
            outcome = Outcome(500, "error")
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        if outcome.code == 200:
            with self._status_lock:
                self.status.events += 1
            self._publish()
        ack = replace(frame, headers=[*frame.headers, ("biz_rt", str(elapsed_ms))], payload=ack_payload(outcome))
        try:
            self._send(frames.encode(ack))
        except (ConnectionClosed, OSError):
            # The platform retries unacknowledged events; dedup absorbs the repeat.
            logger.warning("acknowledgement lost with the connection", extra={"message_id": frame.header("message_id")})

    # --- status -----------------------------------------------------------------

    def _set(self, **changes: object) -> None:
        with self._status_lock:
            for key, value in changes.items():
                setattr(self.status, key, value)
        self._publish()

    def _publish(self) -> None:
        with self._status_lock, self.app.app_context():
            status.publish(self.status)


def _handshake_error(exc: InvalidStatus) -> ConnectError:
    """The platform's refusal headers (handshake-status, handshake-autherrcode) as a ConnectError."""
    headers = exc.response.headers
    code = headers.get("handshake-status")
    message = headers.get("handshake-msg") or f"HTTP {exc.response.status_code}"
    if code is None:
        return ConnectError(f"WebSocket handshake refused: HTTP {exc.response.status_code}")
    try:
        number = int(code)
        auth = int(headers.get("handshake-autherrcode") or 0)
    except ValueError:
        return ConnectError(f"WebSocket handshake refused: {message}")
    if number == AUTH_FAILED and auth == EXCEED_CONN_LIMIT:
        return ConnectError(f"connection limit reached (50 per app): {message}", fatal=True)
    if number == FORBIDDEN:
        return ConnectError(f"WebSocket handshake forbidden: {message}", fatal=True)
    return ConnectError(f"WebSocket handshake refused ({number}): {message}")
