"""Benchmark: start-up time and memory of a web or job process.

Each probe runs in a fresh interpreter: import the app, build it with create_app()
on a throw-away SQLite database (embedded mode), serve one request to /healthz, then
report wall time of each phase and peak RSS (VmHWM: ru_maxrss would carry the parent's
high-water mark across fork+exec). Prints the median of --runs.

    .venv/bin/python scripts/bench/startup.py [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, sys, time
t0 = time.perf_counter()
from app import create_app
t1 = time.perf_counter()
app = create_app({
    "DATABASE_URL": "sqlite:///" + os.environ["PROBE_DB"],
    "SECRET_KEY": "startup-probe-secret-key-0123456789abcdef",
    "OPENCLAW_CONFIG": os.environ["PROBE_CONFIG"],
    "LOG_LEVEL": "WARNING",
})
t2 = time.perf_counter()
app.test_client().get("/healthz")
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "create_app_ms": (t2 - t1) * 1000,
                  "first_request_ms": (t3 - t2) * 1000,
                  "peak_rss_mb": next(int(l.split()[1]) for l in open("/proc/self/status")
                                      if l.startswith("VmHWM:")) / 1024}))
"""


def probe() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PROBE_DB": f"{tmp}/probe.db",
               "PROBE_CONFIG": str(ROOT / "config" / "openclaw.example.yaml")}
        out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                             text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    samples = [probe() for _ in range(args.runs)]
    load = os.getloadavg()[0]
    print(f"start-up probe, {args.runs} fresh processes, load average {load:.2f}")
    print(f"{'phase':<18} {'median':>10}")
    for key in ("import_ms", "create_app_ms", "first_request_ms", "peak_rss_mb"):
        unit = "MB" if key.endswith("mb") else "ms"
        value = statistics.median(s[key] for s in samples)
        print(f"{key[: -3] if unit == 'ms' else 'peak RSS':<18} {value:>8.1f} {unit}")


if __name__ == "__main__":
    main()
