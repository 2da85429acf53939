"""A real gunicorn (gunicorn.conf.py) and a real `flask worker` sharing one PROMETHEUS_MULTIPROC_DIR."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.automation.sshd import free_port
from tests.conftest import ROOT


def start_web(environ: dict[str, str], workdir: Path, *, workers: int = 2) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn with `workers` workers on a free port; returns once /healthz answers."""
    port = free_port()
    env = {**os.environ, **environ, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers),
           "GUNICORN_THREADS": "4"}
    log = (workdir / "gunicorn.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError((workdir / "gunicorn.log").read_text())
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    stop(proc)
    raise AssertionError("gunicorn did not answer /healthz:\n" + (workdir / "gunicorn.log").read_text())


def run_worker_burst(environ: dict[str, str], workdir: Path, timeout: float = 60) -> None:
    """`flask --app app worker --burst --no-scheduler`: run every queued job, then exit."""
    env = {**os.environ, **environ}
    with (workdir / "worker.log").open("wb") as log:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "worker", "--burst", "--no-scheduler"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError((workdir / "worker.log").read_text())


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
