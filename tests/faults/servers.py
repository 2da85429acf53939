"""Servers the fault suite may stop and start: its own redis-server and a throw-away PostgreSQL cluster.

Never the shared servers: each runs on a free port with its data in a temporary directory.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import redis as redis_lib

from tests.automation.sshd import free_port


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not happen within {timeout}s")


class RedisServer:
    """redis-server on 127.0.0.1:<free port>, no persistence: a restart loses every queued job."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 - the server holds it
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        _wait(self.up, 10, "redis-server start")

    def up(self) -> bool:
        try:
            return bool(redis_lib.Redis(port=self.port, socket_connect_timeout=0.2).ping())
        except redis_lib.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def flush(self) -> None:
        redis_lib.Redis(port=self.port).flushall()


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


class PostgresCluster:
    """A cluster made with initdb in a temporary directory and run with pg_ctl on its own port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "pgdata"
        self.port = free_port()
        self.bin = _pg_bin()
        self._as_postgres = os.geteuid() == 0  # initdb refuses to run as root

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run([*prefix, *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       cwd="/tmp")

    def create(self) -> None:
        if self._as_postgres:
            shutil.chown(self.workdir, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.workdir}" \
                  " -c fsync=off -c full_page_writes=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.workdir / "postgres.log"), "-w", "-t", "30", "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.data, ignore_errors=True)
