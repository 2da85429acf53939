"""What every transport shares: the target, the result, the settings, and bounded parallel runs."""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from app.automation.argv import Command
from app.automation.redact import redact
from app.inventory.schema import Host

PID_MARKER = "OPENCLAW_PID="


class Outcome(StrEnum):
    """How one command on one host ended."""

    OK = "ok"                  # exit status 0
    FAILED = "failed"          # non-zero exit status
    TIMEOUT = "timeout"        # command timeout: the remote process group was killed
    CANCELLED = "cancelled"    # stopped by /cancel
    UNREACHABLE = "unreachable"  # could not connect (refused, timed out, no route)
    REFUSED = "refused"        # we refused: unknown or changed host key, authentication failed


@dataclass(frozen=True)
class Target:
    """Where a command runs: an inventory host, resolved."""

    name: str
    transport: str = "ssh"
    address: str | None = None
    port: int = 22
    user: str | None = None
    key_file: str | None = None

    @classmethod
    def of(cls, name: str, host: Host) -> Target:
        return cls(name, host.transport, host.address, host.port, host.user, host.key_file)


@dataclass(frozen=True)
class RunSettings:
    """Transport settings, read from app.config with defaults (see settings.py)."""

    known_hosts: Path = Path("config/known_hosts")
    connect_timeout: float = 10.0
    command_timeout: float = 300.0
    output_cap: int = 64 * 1024
    parallel: int = 10
    reuse: bool = True


@dataclass
class RunResult:
    """One command on one host: outcome, exit code, redacted and capped output, timings."""

    host: str
    outcome: Outcome
    exit_code: int | None = None
    output: str = ""
    error: str | None = None
    connect_seconds: float = 0.0
    remote_seconds: float = 0.0
    elapsed: float = 0.0
    truncated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


class Runner(Protocol):
    def run(
        self, target: Target, command: Command, *, timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> RunResult: ...


class OutputBuffer:
    """Collects output up to a byte cap; the rest is counted and dropped."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.chunks: list[bytes] = []
        self.size = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.cap - self.size
        if room > 0:
            self.chunks.append(data[:room])
            self.size += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def text(self) -> str:
        """The kept output, decoded, CRLF normalised and redacted, with a note when cut."""
        raw = b"".join(self.chunks).decode("utf-8", errors="replace").replace("\r\n", "\n")
        text = redact(raw)
        if self.dropped:
            text += f"\n[output truncated: {self.dropped} more bytes]"
        return text


def split_pid_line(data: bytes) -> tuple[int | None, bytes]:
    """(pid, rest) when data starts with our OPENCLAW_PID=<n> line, else (None, data)."""
    marker = PID_MARKER.encode()
    if not data.startswith(marker):
        return None, data
    line, _, rest = data.partition(b"\n")
    digits = line[len(marker):].strip()
    return (int(digits), rest) if digits.isdigit() else (None, data)


def run_parallel(
    runner_for: Callable[[Target], Runner], jobs: Sequence[tuple[Target, Command]], *, parallel: int,
    timeout: float | None = None, cancel: threading.Event | None = None,
) -> list[RunResult]:
    """Run each (target, command) with at most `parallel` at once; results in input order."""
    if not jobs:
        return []
    if len(jobs) == 1:
        target, command = jobs[0]
        return [runner_for(target).run(target, command, timeout=timeout, cancel=cancel)]
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(jobs))), thread_name_prefix="openclaw-run") as pool:
        futures = [
            pool.submit(runner_for(target).run, target, command, timeout=timeout, cancel=cancel)
            for target, command in jobs
        ]
        return [future.result() for future in futures]


def targets_of(hosts: Mapping[str, Host], names: Sequence[str]) -> list[Target]:
    """Targets for the named inventory hosts, in the given order."""
    return [Target.of(name, hosts[name]) for name in names]
