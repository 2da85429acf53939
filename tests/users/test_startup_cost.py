"""Importing the app must not do expensive work (issue 17: Argon2 at import cost 64 MB and 0.2 s)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Peak RSS from VmHWM, not ru_maxrss: Linux carries the parent's high-water mark into
# ru_maxrss across fork+exec, so under a big pytest process it would measure pytest.
PROBE = """
import json, sys, time
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
t = time.perf_counter()
import app
import app.users.accounts
import app.users.passwords as passwords
elapsed = time.perf_counter() - t
before = hwm()
cached = passwords._dummy_hash.cache_info().currsize
passwords.check_password(None, "anything")
after = hwm()
print(json.dumps({"import_s": elapsed, "rss_kb": before, "rss_after_kb": after, "cached": cached}))
"""


def _probe() -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_app_computes_no_password_hash() -> None:
    figures = _probe()
    assert figures["cached"] == 0, "the dummy Argon2 hash was computed at import time"
    # The first unknown-account check pays the 64 MiB hash; import does not.
    assert figures["rss_after_kb"] - figures["rss_kb"] > 32 * 1024
    assert figures["rss_kb"] < 150 * 1024
