"""Benchmark: the Feishu long connection's acknowledgement path, end to end on this machine.

An embedded-mode app (SQLite file, in-process jobs, as scripts/run.sh runs it) keeps a
long connection to the fake Open Platform of tests/fakes (real WebSocket, protobuf
frames). Prints, for im.message.receive_v1 events:

  - sequential: one event at a time, ack latency p50/p95/p99/max (Feishu allows 3 s);
  - burst: N events written at once, acks per second and the slowest ack;
  - the frame codec alone: encodes and decodes per second.

    .venv/bin/python scripts/bench/longconn.py [--events 300] [--burst 300]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.feishu.longconn import frames  # noqa: E402
from app.feishu.longconn.connector import Connector  # noqa: E402
from tests.fakes.feishu_longconn import FakeLongConnServer  # noqa: E402
from tests.fakes.feishu_server import FakeFeishuServer  # noqa: E402
from tests.pushes import im_message  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def codec(iterations: int) -> tuple[float, float]:
    frame = frames.Frame(seq_id=1, log_id=2**40, service=12345, method=1, payload=b"x" * 1500,
                         headers=[("type", "event"), ("message_id", "m" * 32), ("trace_id", "t" * 32),
                                  ("sum", "1"), ("seq", "0")])
    data = frames.encode(frame)
    started = time.perf_counter()
    for _ in range(iterations):
        frames.encode(frame)
    encode_rate = iterations / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(iterations):
        frames.decode(data)
    return encode_rate, iterations / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--burst", type=int, default=300)
    args = parser.parse_args()

    feishu = FakeFeishuServer().start()
    platform = FakeLongConnServer().start()
    feishu.attach_longconn(platform)
    workdir = Path(tempfile.mkdtemp(prefix="openclaw-bench-longconn-"))
    app = create_app({
        "DATABASE_URL": f"sqlite:///{workdir}/bench.db", "SECRET_KEY": "bench",
        "OPENCLAW_CONFIG": str(ROOT / "tests" / "data" / "inventory.yaml"), "FEISHU_APP_ID": "cli_test",
        "FEISHU_APP_SECRET": "secret", "FEISHU_BASE_URL": feishu.url, "FEISHU_BOT_OPEN_ID": "ou_bot_open_id_example",
        "LOG_LEVEL": "WARNING",
    })
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    connector = Connector(app, name="bench", base_url=feishu.url, app_id="cli_test", app_secret="secret",
                          rng=random.Random(1))
    import threading

    thread = threading.Thread(target=connector.run, daemon=True)
    thread.start()
    conn = platform.wait_connections(1)[0]
    try:
        latencies = []
        for _ in range(args.events):
            message_id = platform.send(im_message("/help", chat_type="p2p", mention_bot=False), conn=conn)
            latencies.append(platform.wait_ack(message_id, timeout=10)[0].elapsed * 1000)
        print(f"sequential: {args.events} events, ack ms p50 {statistics.median(latencies):.2f}"
              f"  p95 {percentile(latencies, 0.95):.2f}  p99 {percentile(latencies, 0.99):.2f}"
              f"  max {max(latencies):.2f}")

        payloads = [im_message("/help", chat_type="p2p", mention_bot=False) for _ in range(args.burst)]
        started = time.perf_counter()
        ids = [platform.send(p, conn=conn) for p in payloads]
        acks = [platform.wait_ack(i, timeout=60)[0] for i in ids]
        elapsed = time.perf_counter() - started
        print(f"burst: {args.burst} events acknowledged in {elapsed:.2f} s = {args.burst / elapsed:.0f} acks/s,"
              f"  slowest ack {max(a.elapsed for a in acks) * 1000:.1f} ms,"
              f"  all code 200: {all(a.body == {'code': 200} for a in acks)}")
        encode_rate, decode_rate = codec(20000)
        print(f"frame codec (1.5 KB payload): {encode_rate:,.0f} encodes/s, {decode_rate:,.0f} decodes/s")
    finally:
        connector.stop()
        thread.join(timeout=10)
        platform.stop()
        feishu.stop()


if __name__ == "__main__":
    main()
