"""A fresh clone of the working tree in a temporary folder, sharing this checkout's virtualenv.

Its .venv is a directory of its own (pyvenv.cfg copied, bin and lib linked, the
requirements stamp written) so scripts/run.sh neither creates nor changes a virtualenv.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT


def make_clone(dest: Path) -> Path:
    """Copy the tracked and new (not ignored) files of the checkout to dest; returns dest."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if name == ".venv" or not source.is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / name)
    venv_real = (ROOT / ".venv").resolve()
    venv = dest / ".venv"
    venv.mkdir()
    shutil.copy2(venv_real / "pyvenv.cfg", venv / "pyvenv.cfg")
    for part in ("bin", "lib", "lib64", "include"):
        if (venv_real / part).exists():
            os.symlink(venv_real / part, venv / part)
    stamp = hashlib.sha256((dest / "requirements.txt").read_bytes()).hexdigest()
    (venv / ".openclaw-requirements.sha256").write_text(stamp + "\n")
    return dest


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a newcomer's shell: none of OpenClaw's settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENCLAW_", "FEISHU_", "LLM_", "ALERT_")) and k not in (
               "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "AUDIT_KEY", "PUBLIC_URL", "HOST", "PORT",
               "PROMETHEUS_URL", "ELASTICSEARCH_URL", "FLASK_APP")}
    env["FLASK_SKIP_DOTENV"] = "1"
    env.update(extra)
    return env
