"""The hand-written pbbp2.Frame codec against the protobuf runtime (the schema lark-oapi ships)."""
from __future__ import annotations

import pytest

from app.feishu.longconn import frames
from app.feishu.longconn.frames import Frame, FrameError
from tests.fakes.feishu_longconn import PbFrame


def _pb(**fields: object) -> object:
    headers = fields.pop("headers", [])
    message = PbFrame(**fields)
    for key, value in headers:  # type: ignore[attr-defined]
        message.headers.add(key=key, value=value)
    return message


def test_ping_bytes_are_what_protobuf_serialises() -> None:
    ours = frames.encode(frames.ping(2147483647))
    theirs = _pb(SeqID=0, LogID=0, service=2147483647, method=0, headers=[("type", "ping")]).SerializeToString()
    assert ours == theirs


def test_a_data_frame_round_trips_both_ways_byte_for_byte() -> None:
    headers = [("type", "event"), ("message_id", "m-1"), ("trace_id", "t"), ("sum", "1"), ("seq", "0"),
               ("biz_rt", "12")]
    payload = '{"text": "部署 v2"}'.encode()
    ours = Frame(seq_id=3, log_id=2**63 + 5, service=77, method=1, headers=headers, payload=payload,
                 log_id_new="abc")
    pb = _pb(SeqID=3, LogID=2**63 + 5, service=77, method=1, headers=headers, payload=payload, LogIDNew="abc")
    assert frames.encode(ours) == pb.SerializeToString()
    decoded = frames.decode(pb.SerializeToString())
    assert decoded == ours
    parsed = PbFrame()
    parsed.ParseFromString(frames.encode(ours))
    assert [(h.key, h.value) for h in parsed.headers] == headers
    assert parsed.payload == payload and parsed.LogID == 2**63 + 5


def test_negative_int32_service_is_sign_extended_like_protobuf() -> None:
    pb = _pb(SeqID=0, LogID=0, service=-5, method=0)
    assert frames.encode(Frame(service=-5)) == pb.SerializeToString()
    assert frames.decode(pb.SerializeToString()).service == -5


def test_unknown_fields_are_skipped() -> None:
    data = _pb(SeqID=1, LogID=2, service=3, method=1).SerializeToString()
    data += bytes([0x50, 0x01]) + bytes([0x59]) + b"\0" * 8  # field 10 varint, field 11 fixed64
    assert frames.decode(data).seq_id == 1


@pytest.mark.parametrize("data", [
    b"\x08",                                   # truncated varint
    b"\x08\x01\x10\x01\x18\x01",               # method missing
    b"\x08\x01\x10\x01\x18\x01\x20\x01\x42\x05ab",  # payload shorter than its length
    b"\x00\x01",                               # field number 0
])
def test_malformed_frames_are_rejected(data: bytes) -> None:
    with pytest.raises(FrameError):
        frames.decode(data)
