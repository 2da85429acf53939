"""The transports against a real sshd: host keys, timeouts, reuse, cancel, caps; and the local runner."""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.automation.argv import Command
from app.automation.local import LocalRunner
from app.automation.pool import ConnectionPool
from app.automation.ssh import SSHRunner
from app.automation.transport import Outcome, RunResult, RunSettings, Target, run_parallel
from tests.automation.sshd import SSHServer, keygen


@pytest.fixture
def settings(sshd: SSHServer) -> RunSettings:
    return RunSettings(known_hosts=sshd.known_hosts, connect_timeout=3, command_timeout=20)


@pytest.fixture
def target(sshd: SSHServer) -> Target:
    return Target("web-01", "ssh", "127.0.0.1", sshd.port, sshd.user, str(sshd.client_key))


@pytest.fixture
def runner(settings: RunSettings) -> Iterator[SSHRunner]:
    pool = ConnectionPool()
    yield SSHRunner(settings, pool)
    pool.close_all()


def remote_processes(user: str, name: str) -> list[str]:
    out = subprocess.run(["pgrep", "-u", user, "-a", name], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_command_runs_with_its_exit_code_and_output(runner: SSHRunner, target: Target, sshd: SSHServer) -> None:
    sshd.clear_calls()
    ok = runner.run(target, Command.of("systemctl", "is-active", "nginx.service"))
    failed = runner.run(target, Command.of("systemctl", "is-active", "broken.service"))
    assert (ok.outcome, ok.exit_code, ok.output) == (Outcome.OK, 0, "active\n")
    assert (failed.outcome, failed.exit_code, failed.output) == (Outcome.FAILED, 3, "failed\n")
    assert sshd.calls() == [["systemctl", "is-active", "nginx.service"], ["systemctl", "is-active", "broken.service"]]


def test_arguments_reach_the_remote_side_literally(runner: SSHRunner, target: Target, sshd: SSHServer) -> None:
    sshd.clear_calls()
    nasty = ["a;id", "b && id", "c | id", "$(id)", "`id`", "x\nid", "'q'", '"q"', "--force", "../../etc/passwd", "*"]
    result = runner.run(target, Command.of("deployer", *nasty))
    assert result.ok
    assert sshd.calls() == [["deployer", *nasty]]


def test_changed_host_key_is_refused(settings: RunSettings, target: Target, sshd: SSHServer, tmp_path: Path) -> None:
    other = keygen(tmp_path / "other_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {Path(f'{other}.pub').read_text()}")
    sshd.clear_calls()
    result = SSHRunner(replace(settings, known_hosts=known), ConnectionPool()).run(
        target, Command.of("systemctl", "restart", "nginx.service"))
    assert result.outcome is Outcome.REFUSED
    assert "does not match" in (result.error or "")
    assert sshd.calls() == []


def test_unknown_host_is_refused_and_never_added(settings: RunSettings, target: Target, sshd: SSHServer,
                                                tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    result = SSHRunner(replace(settings, known_hosts=known), ConnectionPool()).run(target, Command.of("true"))
    assert result.outcome is Outcome.REFUSED
    assert "not in" in (result.error or "")
    assert known.read_text() == ""


def test_missing_known_hosts_file_is_refused(settings: RunSettings, target: Target, tmp_path: Path) -> None:
    result = SSHRunner(replace(settings, known_hosts=tmp_path / "nope"), ConnectionPool()).run(target, Command.of("true"))
    assert result.outcome is Outcome.REFUSED


def test_connect_timeout_on_a_server_that_never_answers(settings: RunSettings, sshd: SSHServer) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)  # accepts TCP in the kernel, never sends a banner
        port = silent.getsockname()[1]
        target = Target("mute", "ssh", "127.0.0.1", port, sshd.user, str(sshd.client_key))
        started = time.monotonic()
        result = SSHRunner(replace(settings, connect_timeout=1), ConnectionPool()).run(target, Command.of("true"))
        elapsed = time.monotonic() - started
    assert result.outcome is Outcome.UNREACHABLE
    assert "timed out" in (result.error or "")
    assert 0.9 <= elapsed < 5


def test_connection_refused_is_unreachable(settings: RunSettings, sshd: SSHServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = Target("gone", "ssh", "127.0.0.1", port, sshd.user, str(sshd.client_key))
    assert SSHRunner(settings, ConnectionPool()).run(target, Command.of("true")).outcome is Outcome.UNREACHABLE


def test_command_timeout_kills_the_remote_process(runner: SSHRunner, target: Target, sshd: SSHServer) -> None:
    started = time.monotonic()
    result = runner.run(target, Command.of("sleep", "37"), timeout=1)
    assert result.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 10
    assert not [p for p in remote_processes(sshd.user, "sleep") if "37" in p]


def test_cancel_stops_a_running_command(runner: SSHRunner, target: Target, sshd: SSHServer) -> None:
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    result = runner.run(target, Command.of("sleep", "41"), cancel=cancel)
    assert result.outcome is Outcome.CANCELLED
    assert not [p for p in remote_processes(sshd.user, "sleep") if "41" in p]


def test_connections_are_reused(settings: RunSettings, target: Target) -> None:
    pool = ConnectionPool()
    runner = SSHRunner(settings, pool)
    first = runner.run(target, Command.of("true"))
    client = next(iter(pool._clients.values()))[0]
    second = runner.run(target, Command.of("true"))
    assert first.ok and second.ok and len(pool) == 1
    assert next(iter(pool._clients.values()))[0] is client
    pool.close_all()


def test_without_reuse_nothing_is_pooled(settings: RunSettings, target: Target) -> None:
    pool = ConnectionPool()
    assert SSHRunner(replace(settings, reuse=False), pool).run(target, Command.of("true")).ok
    assert len(pool) == 0


def test_a_dead_pooled_connection_is_replaced(runner: SSHRunner, target: Target) -> None:
    assert runner.run(target, Command.of("true")).ok
    client = next(iter(runner.pool._clients.values()))[0]
    client.get_transport().sock.close()  # type: ignore[union-attr]  # the network dropped it
    result = runner.run(target, Command.of("echo", "again"))
    assert result.ok and result.output == "again\n"


def test_output_is_capped_and_redacted(settings: RunSettings, target: Target) -> None:
    runner = SSHRunner(replace(settings, output_cap=1000), ConnectionPool())
    result = runner.run(target, Command((("yes", "password=hunter2"), ("head", "-n", "20000"))))
    assert result.ok and result.truncated
    assert "hunter2" not in result.output
    assert "[output truncated" in result.output
    assert len(result.output) < 1200


def test_stderr_is_kept_with_stdout(runner: SSHRunner, target: Target) -> None:
    result = runner.run(target, Command.of("systemctl", "restart", "broken.service"))
    assert result.exit_code == 1 and "failed because" in result.output


def test_parallel_runs_stay_within_the_bound() -> None:
    running, peak, lock = 0, 0, threading.Lock()

    class Slow:
        def run(self, target: Target, command: Command, **_: object) -> RunResult:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.1)
            with lock:
                running -= 1
            return RunResult(target.name, Outcome.OK, exit_code=0)

    jobs = [(Target(f"h{i}"), Command.of("true")) for i in range(9)]
    results = run_parallel(lambda _: Slow(), jobs, parallel=3)
    assert [r.host for r in results] == [f"h{i}" for i in range(9)]
    assert peak == 3


def test_local_runner_uses_no_shell_and_a_clean_environment(settings: RunSettings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SECRET_KEY", "leak-me")
    runner = LocalRunner(settings)
    literal = runner.run(Target("local", "local"), Command.of("echo", "$(id)", "a;b"))
    env = runner.run(Target("local", "local"), Command.of("env"))
    assert literal.output == "$(id) a;b\n"
    assert "leak-me" not in env.output and "SECRET_KEY" not in env.output


def test_local_runner_pipeline_timeout_and_missing_program(settings: RunSettings) -> None:
    runner = LocalRunner(settings)
    piped = runner.run(Target("local", "local"), Command((("printf", "a\\nb\\nc\\n"), ("grep", "-F", "-e", "b"))))
    slow = runner.run(Target("local", "local"), Command.of("sleep", "30"), timeout=0.5)
    missing = runner.run(Target("local", "local"), Command.of("/nonexistent/tool"))
    assert (piped.outcome, piped.output) == (Outcome.OK, "b\n")
    assert slow.outcome is Outcome.TIMEOUT
    assert missing.outcome is Outcome.FAILED and missing.exit_code is None


def test_local_runner_sequence_stops_at_first_failure(settings: RunSettings) -> None:
    result = LocalRunner(settings).run(Target("local", "local"), Command((("false",), ("echo", "not reached")), "&&"))
    assert result.exit_code == 1 and "not reached" not in result.output


def test_pool_forgets_connections_after_fork() -> None:
    pool = ConnectionPool()
    pool._clients[("k",)] = (object(), time.monotonic())  # type: ignore[assignment]
    pool._pid = os.getpid() + 1
    pool._check_fork()
    assert len(pool) == 0
