"""The pbbp2.Frame wire format of the long connection, encoded and decoded by hand.

The schema (lark-oapi's pbbp2.proto, proto2) is nine fields:

    message Header { required string key = 1; required string value = 2; }
    message Frame {
      required uint64 SeqID = 1; required uint64 LogID = 2;
      required int32 service = 3; required int32 method = 4;
      repeated Header headers = 5;
      optional string payload_encoding = 6; optional string payload_type = 7;
      optional bytes payload = 8; optional string LogIDNew = 9;
    }

Two wire types (varint, length-delimited) cover it, so a 100-line codec replaces the
protobuf runtime; tests/fakes encodes with the real protobuf runtime to keep us honest.
"""
from __future__ import annotations

from dataclasses import dataclass, field

METHOD_CONTROL = 0
METHOD_DATA = 1

_VARINT = 0
_I64 = 1
_LEN = 2
_I32 = 5


class FrameError(ValueError):
    """The bytes are not a well-formed pbbp2.Frame."""


@dataclass
class Frame:
    """One frame; headers keep their order and may repeat (as protobuf allows)."""

    seq_id: int = 0
    log_id: int = 0
    service: int = 0
    method: int = METHOD_CONTROL
    headers: list[tuple[str, str]] = field(default_factory=list)
    payload_encoding: str | None = None
    payload_type: str | None = None
    payload: bytes | None = None
    log_id_new: str | None = None

    def header(self, key: str) -> str | None:
        """The first header named key, or None."""
        for name, value in self.headers:
            if name == key:
                return value
        return None


def _varint(value: int) -> bytes:
    if value < 0:  # int32 negatives are sign-extended to 64 bits on the wire
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _bytes_field(number: int, data: bytes) -> bytes:
    return _key(number, _LEN) + _varint(len(data)) + data


def encode(frame: Frame) -> bytes:
    """Serialise in field-number order, as protobuf's own serialiser does."""
    out = bytearray()
    out += _key(1, _VARINT) + _varint(frame.seq_id)
    out += _key(2, _VARINT) + _varint(frame.log_id)
    out += _key(3, _VARINT) + _varint(frame.service)
    out += _key(4, _VARINT) + _varint(frame.method)
    for name, value in frame.headers:
        header = _bytes_field(1, name.encode()) + _bytes_field(2, value.encode())
        out += _bytes_field(5, header)
    if frame.payload_encoding is not None:
        out += _bytes_field(6, frame.payload_encoding.encode())
    if frame.payload_type is not None:
        out += _bytes_field(7, frame.payload_type.encode())
    if frame.payload is not None:
        out += _bytes_field(8, frame.payload)
    if frame.log_id_new is not None:
        out += _bytes_field(9, frame.log_id_new.encode())
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise FrameError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise FrameError("varint longer than 10 bytes")


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(number, wire type, value) for every field; unknown fields are read and skipped by the caller."""
    fields: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise FrameError("field number 0")
        if wire_type == _VARINT:
            value, pos = _read_varint(data, pos)
            fields.append((number, wire_type, value))
        elif wire_type == _LEN:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise FrameError("truncated length-delimited field")
            fields.append((number, wire_type, data[pos:pos + length]))
            pos += length
        elif wire_type == _I64:
            pos += 8
        elif wire_type == _I32:
            pos += 4
        else:
            raise FrameError(f"unsupported wire type {wire_type}")
    if pos != len(data):
        raise FrameError("truncated fixed-width field")
    return fields


def _text(value: int | bytes, what: str) -> str:
    if not isinstance(value, bytes):
        raise FrameError(f"{what} must be length-delimited")
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise FrameError(f"{what} is not UTF-8") from None


def _int32(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def decode(data: bytes) -> Frame:
    """Parse one frame; FrameError on malformed bytes or a missing required field."""
    frame = Frame()
    seen: set[int] = set()
    for number, wire_type, value in _fields(data):
        seen.add(number)
        if number in (1, 2, 3, 4):
            if not isinstance(value, int) or wire_type != _VARINT:
                raise FrameError(f"field {number} must be a varint")
            if number == 1:
                frame.seq_id = value
            elif number == 2:
                frame.log_id = value
            elif number == 3:
                frame.service = _int32(value)
            else:
                frame.method = _int32(value)
        elif number == 5:
            if not isinstance(value, bytes):
                raise FrameError("headers must be length-delimited")
            key = val = None
            for h_number, _, h_value in _fields(value):
                if h_number == 1:
                    key = _text(h_value, "header key")
                elif h_number == 2:
                    val = _text(h_value, "header value")
            if key is None or val is None:
                raise FrameError("header without key or value")
            frame.headers.append((key, val))
        elif number == 6:
            frame.payload_encoding = _text(value, "payload_encoding")
        elif number == 7:
            frame.payload_type = _text(value, "payload_type")
        elif number == 8:
            if not isinstance(value, bytes):
                raise FrameError("payload must be length-delimited")
            frame.payload = value
        elif number == 9:
            frame.log_id_new = _text(value, "LogIDNew")
    missing = {1, 2, 3, 4} - seen
    if missing:
        raise FrameError(f"required field(s) {sorted(missing)} missing")
    return frame


def ping(service_id: int) -> Frame:
    """The client's ping, as the SDK builds it."""
    return Frame(seq_id=0, log_id=0, service=service_id, method=METHOD_CONTROL, headers=[("type", "ping")])
