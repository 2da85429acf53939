"""Run a FeishuClient in separate OS processes that share Redis DB 14 with the test."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# argv: base_url, start_at (epoch seconds), receive chat_id, message count
SEND_TEXTS = """
import sys, time
import redis
from app.feishu.client import FeishuClient

url, start_at, chat_id, count = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
client = FeishuClient(url, "cli_test", "secret", redis=redis.Redis(host="127.0.0.1", port=6379, db=14))
time.sleep(max(0.0, start_at - time.time()))
for i in range(count):
    client.send_text(chat_id, f"{chat_id} #{i}")
"""


def spawn(script: str, *args: object) -> subprocess.Popen[str]:
    """Start `python -c script args...` from the repo root with the test's interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(procs: list[subprocess.Popen[str]], timeout: float = 30) -> list[str]:
    """Wait for every process; raise with its stderr if one failed; return their stdouts."""
    deadline = time.monotonic() + timeout
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        if proc.returncode != 0:
            raise AssertionError(f"child exited {proc.returncode}:\n{err}")
        outputs.append(out)
    return outputs
