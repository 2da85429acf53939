"""A real Prometheus Alertmanager posting to a live server of the app, for the end-to-end tests."""
from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from werkzeug.serving import make_server

BINARIES = ("prometheus-alertmanager", "alertmanager")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SwappableApp:
    """A WSGI app that forwards to whichever Flask app the current test set (503 when none)."""

    def __init__(self) -> None:
        self.target: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.target is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no app"]
        return self.target(environ, start_response)


class LiveServer:
    """werkzeug's threaded server in a daemon thread on a loopback port."""

    def __init__(self, app: Any, port: int) -> None:
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


def binary() -> str | None:
    """The alertmanager executable, or None when it is not installed."""
    return next((found for name in BINARIES if (found := shutil.which(name))), None)


def config(webhook_url: str, token: str) -> str:
    """Alertmanager config: one webhook receiver with a bearer token, fast grouping, quick repeats."""
    return f"""
route:
  receiver: openclaw
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: openclaw
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def start(executable: str, folder: Path, webhook_url: str, token: str) -> Iterator[str]:
    """Run alertmanager with its own config and storage; yields its base URL; stops it afterwards."""
    port = free_port()
    (folder / "alertmanager.yml").write_text(config(webhook_url, token))
    log = open(folder / "alertmanager.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [executable, f"--config.file={folder / 'alertmanager.yml'}", f"--storage.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/-/ready", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"alertmanager did not start: {(folder / 'alertmanager.log').read_text()}")
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
