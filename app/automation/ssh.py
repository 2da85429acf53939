"""SSHRunner: paramiko, key auth, host keys checked against known_hosts (RejectPolicy), timeouts, reuse.

The remote command line is ``echo OPENCLAW_PID=$$; exec <argv, each element
shlex-quoted>``: the shell sshd starts is a session leader, so its pid is the
process group we kill (TERM, then KILL) on timeout or cancel.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import paramiko

from app.automation.argv import Command
from app.automation.pool import POOL, ConnectionPool, PoolKey
from app.automation.transport import (
    PID_MARKER, Outcome, OutputBuffer, RunResult, RunSettings, Target, split_pid_line,
)
from app.infra import metrics

logger = logging.getLogger(__name__)

_POLL = 0.05
_KILL_GRACE = 1


class ConnectError(Exception):
    """A connection could not be set up; outcome says whether we refused or could not reach the host."""

    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def remote_line(command: Command) -> str:
    """The full remote command line: our pid marker, then the quoted command."""
    body = command.shell_line()
    prefix = "exec " if len(command.stages) == 1 else ""
    return f"echo {PID_MARKER}$$; {prefix}{body}"


def kill_line(pid: int) -> str:
    """Kill the process group of pid: TERM, a grace period, then KILL (pid is ours, an int)."""
    pid = int(pid)
    return (
        f"kill -s TERM -- -{pid} 2>/dev/null; sleep {_KILL_GRACE}; "
        f"kill -s KILL -- -{pid} 2>/dev/null; true"
    )


def keyscan_hint(target: Target, known_hosts: Path) -> str:
    """What to run to trust a host's key (keys are never added automatically)."""
    return (f"add its key after checking the fingerprint: "
            f"ssh-keyscan -p {target.port} {target.address} >> {known_hosts}")


class SSHRunner:
    """Runs a Command on an SSH target; never raises for remote problems, returns a RunResult."""

    def __init__(self, settings: RunSettings, pool: ConnectionPool = POOL) -> None:
        self.settings = settings
        self.pool = pool

    def _key(self, target: Target) -> PoolKey:
        return (target.address, target.port, target.user, target.key_file, str(self.settings.known_hosts))

    def connect(self, target: Target) -> paramiko.SSHClient:
        """A new authenticated client; ConnectError when refused or unreachable."""
        known_hosts = Path(self.settings.known_hosts)
        client = paramiko.SSHClient()
        try:
            client.get_host_keys().load(str(known_hosts))  # load() never remembers the path to write back
        except FileNotFoundError:
            raise ConnectError(
                Outcome.REFUSED, f"known_hosts file {known_hosts} not found; {keyscan_hint(target, known_hosts)}"
            ) from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        timeout = self.settings.connect_timeout
        started = time.monotonic()
        try:
            client.connect(
                hostname=str(target.address), port=target.port, username=target.user,
                key_filename=target.key_file, allow_agent=False, look_for_keys=target.key_file is None,
                timeout=timeout, banner_timeout=timeout, auth_timeout=timeout, channel_timeout=timeout,
            )
        except paramiko.BadHostKeyException:
            client.close()
            raise ConnectError(
                Outcome.REFUSED, f"host key of {target.name} does not match {known_hosts} (changed?); refused"
            ) from None
        except paramiko.AuthenticationException:
            client.close()
            raise ConnectError(Outcome.REFUSED, f"authentication to {target.name} failed") from None
        except (TimeoutError, socket.timeout):
            client.close()
            raise ConnectError(Outcome.UNREACHABLE, f"connect to {target.name} timed out after {timeout:g}s") from None
        except paramiko.SSHException as exc:
            client.close()
            message = str(exc)
            if "not found in known_hosts" in message:
                hint = keyscan_hint(target, known_hosts)
                raise ConnectError(Outcome.REFUSED, f"{target.name} is not in {known_hosts}; refused; {hint}") from None
            # A banner timeout surfaces from paramiko's transport thread as "No existing session".
            slow = time.monotonic() - started >= timeout * 0.9
            if slow or "banner" in message.lower() or "timeout" in message.lower():
                raise ConnectError(
                    Outcome.UNREACHABLE, f"connect to {target.name} timed out after {timeout:g}s"
                ) from None
            raise ConnectError(Outcome.UNREACHABLE, f"ssh to {target.name} failed: {message}") from None
        except OSError as exc:
            client.close()
            raise ConnectError(Outcome.UNREACHABLE, f"cannot reach {target.name}: {exc.strerror or exc}") from None
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(30)
            # Small request/response packets: without NODELAY each round trip can wait for a delayed ACK.
            transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[union-attr]
        return client

    def _client(self, target: Target) -> tuple[paramiko.SSHClient, bool]:
        if not self.settings.reuse:
            return self.connect(target), False
        return self.pool.get(self._key(target), lambda: self.connect(target))

    def _open_channel(self, target: Target) -> tuple[paramiko.SSHClient, paramiko.Channel, float]:
        """A session channel, retrying once on a fresh connection when a pooled one went stale."""
        for attempt in (1, 2):
            started = time.monotonic()
            client, reused = self._client(target)
            connect_seconds = time.monotonic() - started
            try:
                transport = client.get_transport()
                assert transport is not None
                channel = transport.open_session(timeout=self.settings.connect_timeout)
                return client, channel, connect_seconds
            except (EOFError, OSError, paramiko.SSHException, AssertionError) as exc:
                self._release(target, client, broken=True)
                if not reused or attempt == 2:
                    raise ConnectError(Outcome.UNREACHABLE, f"ssh session to {target.name} failed: {exc}") from None
        raise AssertionError("unreachable")

    def _release(self, target: Target, client: paramiko.SSHClient, *, broken: bool = False) -> None:
        if not self.settings.reuse:
            client.close()
        elif broken:
            self.pool.discard(self._key(target), client)

    def run(
        self, target: Target, command: Command, *, timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> RunResult:
        """Run command on target within timeout; cancel stops it early. Output is capped and redacted."""
        started = time.monotonic()
        try:
            client, channel, connect_seconds = self._open_channel(target)
        except ConnectError as exc:
            logger.warning("ssh connect failed", extra={"host": target.name, "reason": str(exc)})
            metrics.count_error("ssh", str(exc.outcome))
            return RunResult(target.name, exc.outcome, error=str(exc), elapsed=time.monotonic() - started,
                             connect_seconds=time.monotonic() - started)
        try:
            result = self._exec(target, client, channel, command, timeout or self.settings.command_timeout, cancel)
        except (EOFError, OSError, paramiko.SSHException) as exc:
            self._release(target, client, broken=True)
            metrics.count_error("ssh", "broken")
            result = RunResult(target.name, Outcome.UNREACHABLE, error=f"ssh to {target.name} broke: {exc}")
        else:
            self._release(target, client)
        result.connect_seconds = connect_seconds
        result.elapsed = time.monotonic() - started
        return result

    def _exec(
        self, target: Target, client: paramiko.SSHClient, channel: paramiko.Channel, command: Command,
        timeout: float, cancel: threading.Event | None,
    ) -> RunResult:
        buffer = OutputBuffer(self.settings.output_cap)
        channel.set_combine_stderr(True)
        channel.settimeout(_POLL)
        exec_started = time.monotonic()
        channel.exec_command(remote_line(command))
        deadline = exec_started + timeout
        pid: int | None = None
        head = b""
        stopped: Outcome | None = None
        while True:
            try:
                data = channel.recv(32768)
            except socket.timeout:
                data = None
            if data:
                if pid is None and head is not None:
                    head += data
                    if b"\n" in head or len(head) > 64:
                        pid, rest = split_pid_line(head)
                        buffer.add(rest)
                        head = None  # type: ignore[assignment]
                else:
                    buffer.add(data)
                continue
            if data == b"" or (channel.exit_status_ready() and not channel.recv_ready()):
                break
            if cancel is not None and cancel.is_set():
                stopped = Outcome.CANCELLED
            elif time.monotonic() > deadline:
                stopped = Outcome.TIMEOUT
            if stopped:
                break
        if head:
            buffer.add(head)
        remote_seconds = time.monotonic() - exec_started
        if stopped:
            self._kill(client, pid)
            channel.close()
            what = f"timed out after {timeout:g}s" if stopped is Outcome.TIMEOUT else "cancelled"
            return RunResult(target.name, stopped, output=buffer.text(), error=f"command {what}; killed",
                             remote_seconds=remote_seconds, truncated=bool(buffer.dropped))
        code = channel.recv_exit_status()
        channel.close()
        outcome = Outcome.OK if code == 0 else Outcome.FAILED
        return RunResult(target.name, outcome, exit_code=code, output=buffer.text(),
                         remote_seconds=remote_seconds, truncated=bool(buffer.dropped))

    def _kill(self, client: paramiko.SSHClient, pid: int | None) -> None:
        """Kill the remote process group on a separate channel; best effort."""
        if pid is None:
            return
        try:
            transport = client.get_transport()
            if transport is None:
                return
            channel = transport.open_session(timeout=self.settings.connect_timeout)
            channel.exec_command(kill_line(pid))
            channel.recv_exit_status()
            channel.close()
        except (EOFError, OSError, paramiko.SSHException) as exc:
            logger.warning("could not kill remote command", extra={"pid": pid, "error": str(exc)})
