"""Benchmark: resident memory of the web workers and a job worker under load (sizes the Kubernetes resources).

Starts gunicorn (WEB_CONCURRENCY workers, multiprocess metrics) on a fresh PostgreSQL
database with Redis, pushes signed /help events at it closed-loop while scraping /metrics,
then lets one `flask worker` process queued events against a fake Feishu for --worker-seconds.
Prints the RSS and peak RSS (VmHWM) of the gunicorn master and each worker, and the job
worker's peak RSS.

    .venv/bin/python scripts/bench/memory.py [--events 3000] [--duration 10]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import run  # noqa: E402
from webhook import (  # noqa: E402
    KEY,
    TOKEN,
    VENV_BIN,
    drop_database,
    free_port,
    fresh_database,
    make_events,
    start_gunicorn,
    stop,
    wait_ready,
)

from tests.fakes.feishu_server import FakeFeishuServer  # noqa: E402

# Run argv[2:] for argv[1] seconds, stop it as Kubernetes would (SIGTERM), print its peak RSS in KiB.
MEASURE_CHILD = ("import resource, signal, subprocess, sys, time; p = subprocess.Popen(sys.argv[2:]); "
                 "time.sleep(float(sys.argv[1])); p.send_signal(signal.SIGTERM); p.wait(timeout=60); "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def scrape(port: int, stop_at: float) -> None:
    while time.monotonic() < stop_at:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--worker-seconds", type=float, default=30.0)
    parser.add_argument("--workers", default=os.environ.get("WEB_CONCURRENCY", "2"))
    parser.add_argument("--database", default=os.environ.get(
        "OPENCLAW_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("OPENCLAW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"))
    args = parser.parse_args()

    import redis

    redis.Redis.from_url(args.redis).flushdb()
    feishu = FakeFeishuServer(app_id="cli_bench", app_secret="bench-secret").start()
    database_url = fresh_database(args.database)
    metrics_dir = tempfile.mkdtemp(prefix="openclaw-bench-prom-")
    env = {**os.environ, "WEB_CONCURRENCY": args.workers, "GUNICORN_THREADS": "4", "LOG_LEVEL": "WARNING",
           "DATABASE_URL": database_url, "REDIS_URL": args.redis, "SECRET_KEY": "bench-only-7f3c9a1e5d2b8f6a4c0e9d7b3a1f5e8c",
           "OPENCLAW_CONFIG": str(ROOT / "config" / "openclaw.example.yaml"), "FEISHU_VERIFICATION_TOKEN": TOKEN,
           "FEISHU_ENCRYPT_KEY": KEY, "FEISHU_APP_ID": "cli_bench", "FEISHU_APP_SECRET": "bench-secret",
           "FEISHU_BASE_URL": feishu.url, "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
    subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    server = start_gunicorn("app:create_app()", port, env, [])
    try:
        wait_ready(port)
        scraper = threading.Thread(target=scrape, args=(port, time.monotonic() + args.duration), daemon=True)
        scraper.start()
        result = run("127.0.0.1", port, make_events(args.events), rate=None, duration=args.duration, connections=16)
        scraper.join()
        print(f"web: gunicorn {args.workers} workers x 4 threads; {result.ok} events acked in {result.elapsed:.1f}s "
              f"({result.rate:.0f}/s), {result.errors} errors, /metrics scraped every 0.2 s")
        total = 0
        processes = [("master", server.pid)] + [(f"worker {n}", pid) for n, pid in enumerate(children(server.pid))]
        for label, pid in processes:
            rss, peak = status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM")
            total += rss
            print(f"  {label:<9} pid {pid:>7}  RSS {rss / 1024:6.1f} MiB  peak {peak / 1024:6.1f} MiB")
        print(f"  pod total RSS {total / 1024:.1f} MiB")
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-c", MEASURE_CHILD, str(args.worker_seconds), str(VENV_BIN / "flask"),
                               "--app", "app", "worker", "--no-scheduler"], cwd=ROOT, env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        peak_kib = int(done.stdout.strip().splitlines()[-1])
        print(f"job worker: {len(feishu.messages())} events answered in {time.monotonic() - started:.1f}s, "
              f"peak RSS {peak_kib / 1024:.1f} MiB")
    finally:
        stop(server)
        feishu.stop()
        drop_database(database_url)


if __name__ == "__main__":
    main()
