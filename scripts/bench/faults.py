"""The fault table: every fault of tests/faults/, with commands sent, executed, delivered, duplicated, lost.

    .venv/bin/python scripts/bench/faults.py [--outage 60] [-k PATTERN]

Runs the fault-injection suite (real flask workers and gunicorn, its own redis-server, a
throw-away PostgreSQL cluster made with initdb in a temporary directory, the fake Feishu)
and prints its table:

    fault | sent | executed | delivered | duplicates | lost | audit ok | seconds

A row is right when executed = delivered = sent and duplicates = lost = 0. --outage sets how
long Feishu stays unreachable (the suite's default is 10 s to keep the test run short; the
issue's figure is 60 s, this script's default). The suite never touches the shared PostgreSQL
or Redis.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.faults.conftest import table  # noqa: E402
from tests.faults.harness import Row  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=60.0, help="seconds Feishu is unreachable (default 60)")
    parser.add_argument("-k", default=None, help="only faults whose test name matches (pytest -k)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "faults.json"
        env = {**os.environ, "OPENCLAW_FAULTS_TABLE": str(result),
               "OPENCLAW_FAULTS_FEISHU_OUTAGE": str(options.outage)}
        argv = [sys.executable, "-m", "pytest", "tests/faults", "-q", "-p", "no:cacheprovider",
                "-o", "log_cli=false", "--timeout", "600"]
        if options.k:
            argv += ["-k", options.k]
        completed = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        if not result.exists():
            print(completed.stdout[-5000:])
            print("no fault table was written", file=sys.stderr)
            return completed.returncode or 1
        rows = [Row(**row) for row in json.loads(result.read_text())]
    print(f"Feishu outage: {options.outage:g} s; PostgreSQL and Redis: throw-away servers; "
          f"sweeps every 1 s, stale after 4 s (tests/faults/harness.py FAST)")
    print(table(rows))
    failed = [row.fault for row in rows if not row.ok()]
    if completed.returncode != 0 or failed:
        print(f"\nNOT OK: {', '.join(failed) or 'see pytest output below'}")
        print(completed.stdout[-5000:])
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
