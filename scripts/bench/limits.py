"""The per-user command limit: what counting one command or click costs, on Redis and in-process.

    .venv/bin/python scripts/bench/limits.py [--hits 20000] [--users 500]

Environment: OPENCLAW_TEST_REDIS_URL (default redis://127.0.0.1:6379/15; its keys under
openclaw:bench:rate: are deleted afterwards). Prints p50/p99 microseconds per hit and
hits per second from one thread, for PerMinuteCounter on Redis (one pipelined
INCR + EXPIRE round trip) and on in-process counters (embedded mode).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.infra.ratelimit import PerMinuteCounter  # noqa: E402

REDIS_URL = os.environ.get("OPENCLAW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PREFIX = "openclaw:bench:rate:"


def measure(counter: PerMinuteCounter, hits: int, users: int) -> tuple[float, float, float]:
    """(p50 µs, p99 µs, hits per second) for hits spread over users."""
    samples = []
    started = time.perf_counter()
    for n in range(hits):
        before = time.perf_counter()
        counter.hit(f"ou_user{n % users}", 100)
        samples.append((time.perf_counter() - before) * 1e6)
    elapsed = time.perf_counter() - started
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1], hits / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hits", type=int, default=20000)
    parser.add_argument("--users", type=int, default=500)
    args = parser.parse_args()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for name, counter in (("redis", PerMinuteCounter(client, PREFIX)), ("in-process", PerMinuteCounter(None, PREFIX))):
            p50, p99, rate = measure(counter, args.hits, args.users)
            print(f"{name:>10}: p50 {p50:7.1f} µs  p99 {p99:7.1f} µs  {rate:9.0f} hits/s  "
                  f"({args.hits} hits, {args.users} users)")
    finally:
        keys = list(client.scan_iter(PREFIX + "*"))
        if keys:
            client.delete(*keys)
        client.close()


if __name__ == "__main__":
    main()
