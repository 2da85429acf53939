"""LocalRunner: `transport: local` hosts run argv with subprocess, no shell, in a new process group."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

from app.automation.argv import Command
from app.automation.transport import Outcome, OutputBuffer, RunResult, RunSettings, Target

# Local commands get a clean environment: the bot's own secrets (SECRET_KEY, FEISHU_*) stay out.
_PASS_THROUGH = ("PATH", "LANG", "LC_ALL", "HOME", "TZ")
_POLL = 0.05


def _clean_env() -> dict[str, str]:
    env = {name: os.environ[name] for name in _PASS_THROUGH if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


class LocalRunner:
    """Runs a Command on the bot's own machine; never raises for command problems."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings

    def run(
        self, target: Target, command: Command, *, timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> RunResult:
        """Run command within timeout; cancel stops it early. Output is capped and redacted."""
        started = time.monotonic()
        deadline = started + (timeout or self.settings.command_timeout)
        buffer = OutputBuffer(self.settings.output_cap)
        code: int | None = None
        stopped: Outcome | None = None
        if command.op == "&&":
            for stage in command.stages:
                code, stopped = self._pipeline((stage,), buffer, deadline, cancel)
                if stopped or code != 0:
                    break
        else:
            code, stopped = self._pipeline(command.stages, buffer, deadline, cancel)
        elapsed = time.monotonic() - started
        if stopped is not None:
            what = "timed out" if stopped is Outcome.TIMEOUT else "cancelled"
            return RunResult(target.name, stopped, output=buffer.text(), error=f"command {what}; killed",
                             remote_seconds=elapsed, elapsed=elapsed, truncated=bool(buffer.dropped))
        if code is None:
            return RunResult(target.name, Outcome.FAILED, output=buffer.text(), error="command not found",
                             remote_seconds=elapsed, elapsed=elapsed)
        outcome = Outcome.OK if code == 0 else Outcome.FAILED
        return RunResult(target.name, outcome, exit_code=code, output=buffer.text(), remote_seconds=elapsed,
                         elapsed=elapsed, truncated=bool(buffer.dropped))

    def _pipeline(
        self, stages: tuple[tuple[str, ...], ...], buffer: OutputBuffer, deadline: float,
        cancel: threading.Event | None,
    ) -> tuple[int | None, Outcome | None]:
        """Run stages as a pipeline in one new process group; (exit code of the last, stop reason)."""
        read_fd, write_fd = os.pipe()
        processes: list[subprocess.Popen[bytes]] = []
        try:
            previous = None
            for index, argv in enumerate(stages):
                last = index == len(stages) - 1
                group = {"process_group": processes[0].pid if processes else 0}
                processes.append(subprocess.Popen(  # noqa: S603 - argv list, no shell
                    list(argv), stdin=previous or subprocess.DEVNULL, stdout=write_fd if last else subprocess.PIPE,
                    stderr=write_fd, env=_clean_env(), close_fds=True, **group,  # type: ignore[arg-type]
                ))
                if previous is not None:
                    previous.close()
                previous = processes[-1].stdout
        except OSError as exc:
            os.close(write_fd)
            buffer.add(f"{exc.strerror}: {exc.filename}\n".encode())
            os.close(read_fd)
            self._kill(processes)
            return None, None
        os.close(write_fd)
        reader = threading.Thread(target=self._read, args=(read_fd, buffer), daemon=True)
        reader.start()
        stopped: Outcome | None = None
        while processes[-1].poll() is None:
            if cancel is not None and cancel.is_set():
                stopped = Outcome.CANCELLED
            elif time.monotonic() > deadline:
                stopped = Outcome.TIMEOUT
            if stopped:
                self._kill(processes)
                break
            time.sleep(_POLL)
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._kill(processes)
        reader.join(timeout=5)
        return processes[-1].returncode, stopped

    @staticmethod
    def _read(fd: int, buffer: OutputBuffer) -> None:
        with os.fdopen(fd, "rb") as pipe:
            for chunk in iter(lambda: pipe.read1(32768), b""):
                buffer.add(chunk)

    @staticmethod
    def _kill(processes: list[subprocess.Popen[bytes]]) -> None:
        if not processes:
            return
        try:
            os.killpg(processes[0].pid, signal.SIGTERM)
            time.sleep(0.2)
            os.killpg(processes[0].pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
