"""Fixtures of the fault suite (its own Redis and PostgreSQL cluster) and the table it prints at the end."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import Bot, Row, new_bot
from tests.faults.servers import PostgresCluster, RedisServer

ROWS: list[Row] = []
HEADER = ("fault", "sent", "executed", "delivered", "duplicates", "lost", "audit ok", "seconds")


def table(rows: list[Row]) -> str:
    """The fault table as aligned text."""
    cells = [HEADER] + [(r.fault, str(r.sent), str(r.executed), str(r.delivered), str(r.duplicates), str(r.lost),
                         "yes" if r.audit_ok else "NO", f"{r.seconds:.1f}") for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not ROWS:
        return
    terminalreporter.write_sep("=", "fault table (tests/faults)")
    terminalreporter.write_line(table(ROWS))
    target = os.environ.get("OPENCLAW_FAULTS_TABLE")
    if target:
        Path(target).write_text(json.dumps([row.__dict__ for row in ROWS], indent=1))


@pytest.fixture(scope="session")
def fault_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("fault-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fault_pg() -> Iterator[PostgresCluster]:
    # Not under pytest's temp root: that is private to root, and the cluster runs as postgres.
    workdir = Path(tempfile.mkdtemp(prefix="openclaw-faults-pg-"))
    cluster = PostgresCluster(workdir)
    cluster.create()
    yield cluster
    cluster.destroy()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def make_bot(fault_pg: PostgresCluster, fault_redis: RedisServer,
             tmp_path: Path) -> Iterator[Callable[[str], Bot]]:
    """Build the scenario's bot; its processes are killed and its row recorded afterwards."""
    bots: list[Bot] = []

    def build(name: str) -> Bot:
        if not fault_redis.up():
            fault_redis.start()
        bot = new_bot(name, tmp_path / name, fault_pg, fault_redis)
        bots.append(bot)
        return bot

    yield build
    for bot in bots:
        bot.shutdown()
        bot.feishu.stop()
