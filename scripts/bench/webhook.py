"""Benchmark: signed, encrypted Feishu events against gunicorn on PostgreSQL + Redis.

In the same run the same load goes to a bare Flask endpoint under the same gunicorn
settings that only answers 200, so the figures say what our verify-record-queue path
costs on this machine. Prints acked events/s, ack latency p50/p99 at each rate, and
the ratio to the bare endpoint.

    .venv/bin/python scripts/bench/webhook.py [--rates 100,200,300,400] [--duration 5]
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import Request, Result, run  # noqa: E402

from app.feishu.crypto import encrypt, event_signature  # noqa: E402

BENCH_SECRET_KEY = "bench-only-7f3c9a1e5d2b8f6a4c0e9d7b3a1f5e8c"  # long enough for load_config outside embedded mode

TOKEN = "bench-verification-token"
KEY = "bench encrypt key"
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_events(count: int) -> list[Request]:
    """count distinct im.message.receive_v1 pushes, encrypted and signed as Feishu does."""
    requests: list[Request] = []
    for i in range(count):
        payload = {
            "schema": "2.0",
            "header": {"event_id": uuid.uuid4().hex, "event_type": "im.message.receive_v1",
                       "create_time": str(int(time.time() * 1000)), "token": TOKEN,
                       "app_id": "cli_bench", "tenant_key": "bench"},
            "event": {
                "sender": {"sender_id": {"open_id": "ou_bench"}, "sender_type": "user"},
                "message": {"message_id": f"om_{uuid.uuid4().hex}", "chat_id": "oc_bench", "chat_type": "p2p",
                            "message_type": "text", "content": json.dumps({"text": f"/help {i}"})},
            },
        }
        body = json.dumps({"encrypt": encrypt(json.dumps(payload).encode(), KEY, secrets.token_bytes(16))}).encode()
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Lark-Request-Timestamp": timestamp,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": event_signature(timestamp, nonce, KEY, body),
        }
        requests.append(("/webhook/feishu", body, headers))
    return requests


def wait_ready(port: int, timeout: float = 30) -> None:
    """Until a POST to /webhook/feishu gets any HTTP answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook/feishu", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not become ready")


def start_gunicorn(app_spec: str, port: int, env: dict[str, str], extra: list[str]) -> subprocess.Popen[bytes]:
    cmd = [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), *extra, app_spec]
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def fresh_database(server_url: str) -> str:
    name = f"openclaw_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def line(label: str, result: Result) -> str:
    return (f"  {label:<22} acked {result.rate:8.1f}/s  p50 {result.p50:7.2f} ms  p99 {result.pct(0.99):7.2f} ms"
            f"  errors {result.errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,200,300,400", help="open-loop rates in events/s")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per step")
    parser.add_argument("--workers", default=os.environ.get("WEB_CONCURRENCY", "2"))
    parser.add_argument("--threads", default=os.environ.get("GUNICORN_THREADS", "4"))
    parser.add_argument("--database", default=os.environ.get(
        "OPENCLAW_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("OPENCLAW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"))
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]

    database_url = fresh_database(args.database)
    base_env = {**os.environ, "WEB_CONCURRENCY": args.workers, "GUNICORN_THREADS": args.threads, "LOG_LEVEL": "WARNING"}
    app_env = {
        **base_env, "DATABASE_URL": database_url, "REDIS_URL": args.redis, "SECRET_KEY": BENCH_SECRET_KEY,
        "OPENCLAW_CONFIG": str(ROOT / "config" / "openclaw.example.yaml"),
        "FEISHU_VERIFICATION_TOKEN": TOKEN, "FEISHU_ENCRYPT_KEY": KEY,
    }
    subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "db", "upgrade"], cwd=ROOT, env=app_env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    per_step = int(max(rates) * args.duration) + 1
    events = make_events(per_step * (len(rates) + 1) + 2000)
    app_port, bare_port = free_port(), free_port()
    servers = [
        start_gunicorn("app:create_app()", app_port, app_env, []),
        start_gunicorn("bare_app:app", bare_port, base_env, ["--pythonpath", str(Path(__file__).parent)]),
    ]
    try:
        wait_ready(app_port)
        wait_ready(bare_port)
        print(f"gunicorn: {args.workers} workers x {args.threads} threads (gthread); "
              f"PostgreSQL + Redis; {os.cpu_count()} CPUs; {args.duration:g}s per step")
        offset = 0

        def take(n: int) -> list[Request]:
            nonlocal offset
            chunk = events[offset:offset + n]
            offset += n
            return chunk

        run("127.0.0.1", app_port, take(200), rate=None, duration=1.0)  # warm-up
        run("127.0.0.1", bare_port, events[:200], rate=None, duration=1.0)
        for rate in rates:
            n = int(rate * args.duration) + 1
            ours = run("127.0.0.1", app_port, take(n), rate=rate, duration=args.duration)
            bare = run("127.0.0.1", bare_port, events[:n], rate=rate, duration=args.duration)
            print(f"rate {rate:g} events/s")
            print(line("openclaw /webhook/feishu", ours))
            print(line("bare flask endpoint", bare))
        ours = run("127.0.0.1", app_port, events[offset:], rate=None, duration=args.duration, connections=16)
        bare = run("127.0.0.1", bare_port, events[:2000], rate=None, duration=args.duration, connections=16)
        print("max throughput (closed loop, 16 connections)")
        print(line("openclaw /webhook/feishu", ours))
        print(line("bare flask endpoint", bare))
        print(f"ratio openclaw/bare: {ours.rate / bare.rate:.2f}")
    finally:
        for server in servers:
            stop(server)
        drop_database(database_url)


if __name__ == "__main__":
    main()
