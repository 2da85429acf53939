"""FakeLongConnServer: the Open Platform's side of the long connection (feishu-protocol.md 6).

Discovery is served by FakeFeishuServer (POST /callback/ws/endpoint, see
attach_longconn); it hands out ws:// URLs with a one-time ticket for this
WebSocket server. Frames are pbbp2.Frame messages built with the real protobuf
runtime from the same schema lark-oapi ships, so the client's hand-written codec
is checked against protobuf itself.
"""
from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve


def _frame_class() -> Any:
    """pbbp2.Frame from lark-oapi's pbbp2.proto (proto2), without the gogo option that has no wire effect."""
    proto = descriptor_pb2.FileDescriptorProto(name="pbbp2_fake.proto", package="pbbp2", syntax="proto2")
    F = descriptor_pb2.FieldDescriptorProto
    header = proto.message_type.add(name="Header")
    header.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_REQUIRED)
    header.field.add(name="value", number=2, type=F.TYPE_STRING, label=F.LABEL_REQUIRED)
    frame = proto.message_type.add(name="Frame")
    for name, number, kind, label in (
        ("SeqID", 1, F.TYPE_UINT64, F.LABEL_REQUIRED), ("LogID", 2, F.TYPE_UINT64, F.LABEL_REQUIRED),
        ("service", 3, F.TYPE_INT32, F.LABEL_REQUIRED), ("method", 4, F.TYPE_INT32, F.LABEL_REQUIRED),
        ("payload_encoding", 6, F.TYPE_STRING, F.LABEL_OPTIONAL), ("payload_type", 7, F.TYPE_STRING, F.LABEL_OPTIONAL),
        ("payload", 8, F.TYPE_BYTES, F.LABEL_OPTIONAL), ("LogIDNew", 9, F.TYPE_STRING, F.LABEL_OPTIONAL),
    ):
        frame.field.add(name=name, number=number, type=kind, label=label)
    frame.field.add(name="headers", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED, type_name=".pbbp2.Header")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("pbbp2.Frame"))


PbFrame = _frame_class()


def headers_of(frame: Any) -> dict[str, str]:
    return {h.key: h.value for h in frame.headers}


@dataclass
class Ack:
    """The client's answer to a data frame."""

    frame: Any
    body: dict[str, Any]
    elapsed: float  # seconds from our send to its arrival

    @property
    def data(self) -> dict[str, Any] | None:
        """The callback answer (base64 JSON in "data"), decoded."""
        raw = self.body.get("data")
        return json.loads(base64.b64decode(raw)) if raw else None


@dataclass
class ClientConn:
    """One client connection as the platform sees it."""

    ws: ServerConnection
    device_id: str
    service_id: int
    pings: int = 0
    frames: list[Any] = field(default_factory=list)
    open: bool = True


class FakeLongConnServer:
    """WebSocket side of the long connection on 127.0.0.1:<ephemeral port>."""

    def __init__(self, *, client_config: dict[str, int] | None = None, pong_config: dict[str, int] | None = None,
                 max_connections: int = 50) -> None:
        self.client_config = client_config or {
            "ReconnectCount": -1, "ReconnectInterval": 1, "ReconnectNonce": 0, "PingInterval": 120,
        }
        self.pong_config = pong_config
        self.max_connections = max_connections
        self.lock = threading.Lock()
        self.connections: list[ClientConn] = []
        self.discoveries = 0
        self.refused_handshakes = 0
        self._tickets: dict[str, tuple[str, int]] = {}
        self._sent: dict[str, float] = {}
        self._acks: dict[str, list[Ack]] = {}
        self._ack_event = threading.Condition(self.lock)
        self._refuse_next: list[tuple[int, dict[str, str]]] = []
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeLongConnServer:
        self._server = serve(self._handle, "127.0.0.1", 0, process_request=self._check_ticket, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-longconn", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self.close_all()
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.socket.getsockname()[1])

    # -- discovery (called by FakeFeishuServer) ----------------------------------------------------

    def issue_endpoint(self) -> dict[str, Any]:
        """data of a successful POST /callback/ws/endpoint: a fresh URL with a one-time ticket."""
        device_id = uuid.uuid4().hex
        service_id = random.randint(1, 2**31 - 1)
        ticket = uuid.uuid4().hex
        with self.lock:
            self.discoveries += 1
            self._tickets[ticket] = (device_id, service_id)
        url = (f"ws://127.0.0.1:{self.port}/ws?device_id={device_id}&service_id={service_id}"
               f"&ticket={ticket}&access_key=fake")
        return {"URL": url, "ClientConfig": dict(self.client_config)}

    def refuse_next_handshake(self, status: int, auth_code: int | None = None) -> None:
        """Refuse the next handshake the way the platform does (handshake-status header)."""
        headers = {"handshake-status": str(status), "handshake-msg": "refused by the fake"}
        if auth_code is not None:
            headers["handshake-autherrcode"] = str(auth_code)
        with self.lock:
            self._refuse_next.append((status, headers))

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        from urllib.parse import parse_qs, urlparse

        query = parse_qs(urlparse(request.path).query)
        ticket = (query.get("ticket") or [""])[0]
        with self.lock:
            refusal = self._refuse_next.pop(0) if self._refuse_next else None
            known = self._tickets.pop(ticket, None)
            live = sum(1 for c in self.connections if c.open)
            if refusal is None and live >= self.max_connections:
                refusal = (514, {"handshake-status": "514", "handshake-msg": "too many connections",
                                 "handshake-autherrcode": "1000040350"})
        if refusal is None and known is None:
            refusal = (514, {"handshake-status": "514", "handshake-msg": "invalid ticket",
                             "handshake-autherrcode": "1000040351"})
        if refusal is None:
            return None
        with self.lock:
            self.refused_handshakes += 1
        response = connection.respond(403 if refusal[0] == 403 else 400, "refused\n")
        for name, value in refusal[1].items():
            response.headers[name] = value
        return response

    # -- the connection ---------------------------------------------------------------------------

    def _handle(self, ws: ServerConnection) -> None:
        from urllib.parse import parse_qs, urlparse

        assert ws.request is not None
        query = parse_qs(urlparse(ws.request.path).query)
        conn = ClientConn(ws, query["device_id"][0], int(query["service_id"][0]))
        with self.lock:
            self.connections.append(conn)
            self._ack_event.notify_all()
        try:
            for raw in ws:
                frame = PbFrame()
                frame.ParseFromString(raw)
                with self.lock:
                    conn.frames.append(frame)
                kind = headers_of(frame).get("type")
                if frame.method == 0 and kind == "ping":
                    with self.lock:
                        conn.pings += 1
                    ws.send(self._pong(frame).SerializeToString())
                elif frame.method == 1:
                    self._record_ack(frame)
        except ConnectionClosed:
            pass
        finally:
            with self.lock:
                conn.open = False
                self._ack_event.notify_all()

    def _pong(self, ping: Any) -> Any:
        pong = PbFrame(SeqID=ping.SeqID, LogID=ping.LogID, service=ping.service, method=0)
        pong.headers.add(key="type", value="pong")
        if self.pong_config is not None:
            pong.payload = json.dumps(self.pong_config).encode()
        return pong

    def _record_ack(self, frame: Any) -> None:
        message_id = headers_of(frame).get("message_id", "")
        with self.lock:
            sent = self._sent.get(message_id, time.monotonic())
            body = json.loads(frame.payload) if frame.HasField("payload") else {}
            self._acks.setdefault(message_id, []).append(Ack(frame, body, time.monotonic() - sent))
            self._ack_event.notify_all()

    # -- test controls -----------------------------------------------------------------------------

    def live(self) -> list[ClientConn]:
        with self.lock:
            return [c for c in self.connections if c.open]

    def wait_connections(self, count: int, timeout: float = 10.0) -> list[ClientConn]:
        """Block until `count` connections are open."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while sum(1 for c in self.connections if c.open) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fewer than {count} long connections after {timeout}s")
                self._ack_event.wait(left)
            return [c for c in self.connections if c.open]

    def send(self, payload: dict[str, Any] | bytes, *, kind: str = "event", conn: ClientConn | None = None,
             message_id: str | None = None, parts: int = 1) -> str:
        """Deliver one payload as data frame(s) to conn (default: one random open connection, as in cluster mode)."""
        conn = conn or random.choice(self.wait_connections(1))
        raw = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        message_id = message_id or uuid.uuid4().hex
        trace_id = uuid.uuid4().hex
        size = -(-len(raw) // parts)
        chunks = [raw[i * size:(i + 1) * size] for i in range(parts)]
        with self.lock:
            self._sent[message_id] = time.monotonic()
        for seq, chunk in enumerate(chunks):
            frame = PbFrame(SeqID=seq, LogID=random.randint(1, 2**62), service=conn.service_id, method=1,
                            payload=chunk)
            for key, value in (("type", kind), ("message_id", message_id), ("trace_id", trace_id),
                               ("sum", str(parts)), ("seq", str(seq))):
                frame.headers.add(key=key, value=value)
            conn.ws.send(frame.SerializeToString())
        return message_id

    def send_raw(self, data: bytes, conn: ClientConn | None = None) -> None:
        (conn or self.wait_connections(1)[0]).ws.send(data)

    def wait_ack(self, message_id: str, count: int = 1, timeout: float = 5.0) -> list[Ack]:
        """The first `count` acknowledgements of message_id."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self._acks.get(message_id, [])) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no ack for {message_id} within {timeout}s")
                self._ack_event.wait(left)
            return list(self._acks[message_id][:count])

    def acks(self, message_id: str) -> list[Ack]:
        with self.lock:
            return list(self._acks.get(message_id, []))

    def close_all(self, code: int = 1001, reason: str = "server going away") -> None:
        """Server-side close of every open connection."""
        for conn in self.live():
            try:
                conn.ws.close(code, reason)
            except Exception:
                pass
