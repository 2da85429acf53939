"""Benchmark: alert ingestion on /webhook/alertmanager (gunicorn, PostgreSQL + Redis) vs Alertmanager itself.

The same alerts, each repeated, go in the same run to our webhook (as Alertmanager's
version 4 payload) and to a local Prometheus Alertmanager's /api/v2/alerts (as
Prometheus posts them), in single-alert requests and in batches of 50. Prints
alerts/s ingested by each, the ratio, and afterwards runs one burst worker against
a fake Feishu to count notifications: repeats must not notify.

    .venv/bin/python scripts/bench/alerts.py [--unique 400] [--repeats 10] [--duration 5]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import Request, Result, run
from webhook import VENV_BIN, drop_database, free_port, fresh_database, start_gunicorn, stop

from tests.alerts.live import binary
from tests.fakes.feishu_server import FakeFeishuServer

BENCH_SECRET_KEY = "bench-only-7f3c9a1e5d2b8f6a4c0e9d7b3a1f5e8c"  # long enough for load_config outside embedded mode

TOKEN = "bench-alert-token"
BATCH = 50


def labels_of(phase: str, i: int) -> dict[str, str]:
    return {"alertname": f"Bench{phase}{i % 20}", "instance": f"host-{i}:9100", "severity": "warning",
            "job": "node"}


def am_alert(phase: str, i: int) -> dict[str, object]:
    """Alert i as Alertmanager puts it in a webhook payload."""
    return {"status": "firing", "labels": labels_of(phase, i), "annotations": {"summary": f"bench alert {i}"},
            "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph", "fingerprint": f"{phase}{i:015x}"[:16]}


def postable(phase: str, i: int) -> dict[str, object]:
    """Alert i as Prometheus posts it to Alertmanager's API."""
    now = datetime.now(UTC)
    return {"labels": labels_of(phase, i), "annotations": {"summary": f"bench alert {i}"},
            "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
            "generatorURL": "http://prometheus/graph"}


def sequence(unique: int, repeats: int) -> list[int]:
    """Alert numbers: every alert once, then again, repeats times (as monitors re-send)."""
    return [i for _ in range(repeats) for i in range(unique)]


def ours(phase: str, order: list[int], size: int) -> list[Request]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    requests = []
    for start in range(0, len(order), size):
        alerts = [am_alert(phase, i) for i in order[start:start + size]]
        body = {"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
                "receiver": "openclaw", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                "externalURL": "http://am", "alerts": alerts}
        requests.append(("/webhook/alertmanager", json.dumps(body).encode(), headers))
    return requests


def theirs(phase: str, order: list[int], size: int) -> list[Request]:
    headers = {"Content-Type": "application/json"}
    return [("/api/v2/alerts", json.dumps([postable(phase, i) for i in order[start:start + size]]).encode(), headers)
            for start in range(0, len(order), size)]


def start_alertmanager(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    executable = binary()
    if executable is None:
        raise SystemExit("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
    port = free_port()
    (folder / "am.yml").write_text("route: {receiver: sink, group_wait: 30s, group_interval: 5m}\n"
                                   "receivers: [{name: sink}]\n")
    process = subprocess.Popen(
        [executable, f"--config.file={folder / 'am.yml'}", f"--storage.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("alertmanager did not start") from None
            time.sleep(0.1)


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not become ready")


POSTED = {"alerts": 0}


def measure(label: str, port: int, requests: list[Request], per_request: int, duration: float,
            connections: int) -> float:
    result: Result = run("127.0.0.1", port, requests, rate=None, duration=duration, connections=connections)
    rate = result.rate * per_request
    if "openclaw" in label:
        POSTED["alerts"] += result.ok * per_request
    print(f"  {label:<34} {rate:9.0f} alerts/s  ({result.rate:7.1f} req/s, p50 {result.p50:6.2f} ms,"
          f" p99 {result.pct(0.99):6.2f} ms, errors {result.errors})")
    return rate


def count_notifications(app_env: dict[str, str], database_url: str) -> tuple[int, int, int]:
    """Run one burst worker; (alerts stored, alerts routed to a card or summary, Feishu messages sent)."""
    subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "worker", "--burst", "--no-scheduler"], cwd=ROOT,
                   env=app_env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar_one()
        routed = conn.execute(sa.text("SELECT count(*) FROM alerts WHERE notify_state IN ('sent', 'grouped')"))
        routed_count = routed.scalar_one()
    engine.dispose()
    return int(stored), int(routed_count), -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unique", type=int, default=400, help="distinct alerts per phase")
    parser.add_argument("--repeats", type=int, default=10, help="times each alert is sent")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", default=os.environ.get("WEB_CONCURRENCY", "2"))
    parser.add_argument("--threads", default=os.environ.get("GUNICORN_THREADS", "4"))
    parser.add_argument("--database", default=os.environ.get(
        "OPENCLAW_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("OPENCLAW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"))
    args = parser.parse_args()

    feishu = FakeFeishuServer().start()
    database_url = fresh_database(args.database)
    base_env = {**os.environ, "WEB_CONCURRENCY": args.workers, "GUNICORN_THREADS": args.threads,
                "LOG_LEVEL": "WARNING"}
    app_env = {
        **base_env, "DATABASE_URL": database_url, "REDIS_URL": args.redis, "SECRET_KEY": BENCH_SECRET_KEY,
        "OPENCLAW_CONFIG": str(ROOT / "config" / "openclaw.example.yaml"), "ALERT_WEBHOOK_TOKEN": TOKEN,
        "FEISHU_APP_ID": "cli_test", "FEISHU_APP_SECRET": "secret", "FEISHU_BASE_URL": feishu.url,
        "FEISHU_VERIFICATION_TOKEN": "bench",
    }
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "db", "upgrade"], cwd=ROOT, env=app_env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app_port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="bench-am-"))
    am, am_port = start_alertmanager(folder)
    server = start_gunicorn("app:create_app()", app_port, app_env, [])
    bare_port = free_port()
    bare = start_gunicorn("bare_app:app", bare_port, base_env, ["--pythonpath", str(Path(__file__).parent)])
    try:
        wait_ready(app_port)
        wait_ready(bare_port)
        order = sequence(args.unique, args.repeats)
        print(f"gunicorn {args.workers}x{args.threads} on PostgreSQL + Redis vs Alertmanager on 127.0.0.1;"
              f" {os.cpu_count()} CPUs; {args.unique} distinct alerts x {args.repeats} per phase;"
              f" {args.connections} connections, {args.duration:g}s closed loop each")
        run("127.0.0.1", app_port, ours("w", sequence(50, 2), 1), rate=None, duration=1.0)  # warm-up
        figures = {}
        for size, phase in ((1, "s"), (BATCH, "b")):
            label = "single alerts" if size == 1 else f"batches of {size}"
            print(label)
            mine = measure("openclaw /webhook/alertmanager", app_port, ours(phase, order, size), size,
                           args.duration, args.connections)
            am_rate = measure("alertmanager /api/v2/alerts", am_port, theirs(phase, order, size), size,
                              args.duration, args.connections)
            figures[label] = (mine, am_rate)
            print(f"  ratio openclaw/alertmanager: {mine / am_rate:.2f}")
        same_bodies = [("/webhook/feishu", body, headers) for _, body, headers in ours("s", order, 1)]
        ceiling = measure("bare flask endpoint (same gunicorn)", bare_port, same_bodies, 1, args.duration,
                          args.connections)
        print(f"  single-alert ceiling of this gunicorn setup: {ceiling:.0f} req/s")
        stop(server)
        stored, routed, _ = count_notifications(app_env, database_url)
        cards = sum(1 for m in feishu.messages() if m.msg_type == "interactive")
        print(f"notifications: {POSTED['alerts']} alerts posted to openclaw (plus warm-up), {stored} distinct"
              f" alerts stored, {routed} of them routed (once each), {cards} Feishu cards sent (storm summaries"
              f" included); repeats that notified: {max(0, routed - stored)}")
    finally:
        if server.poll() is None:
            stop(server)
        stop(am)
        stop(bare)
        feishu.stop()
        drop_database(database_url)


if __name__ == "__main__":
    main()
