"""Automation run settings from app.config (load_config types and defaults them), and a runner per transport."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.automation.local import LocalRunner
from app.automation.ssh import SSHRunner
from app.automation.transport import Runner, RunSettings, Target

def run_settings(config: Mapping[str, Any]) -> RunSettings:
    """RunSettings from app.config."""
    return RunSettings(
        known_hosts=Path(str(config["SSH_KNOWN_HOSTS"])),
        connect_timeout=float(config["SSH_CONNECT_TIMEOUT"]),
        command_timeout=float(config["SSH_COMMAND_TIMEOUT"]),
        output_cap=int(config["SSH_OUTPUT_CAP"]),
        parallel=int(config["SSH_PARALLEL"]),
        reuse=bool(config["SSH_REUSE"]),
    )


@dataclass(frozen=True)
class Runners:
    """One runner per transport for a set of settings."""

    ssh: SSHRunner
    local: LocalRunner

    @classmethod
    def of(cls, settings: RunSettings) -> Runners:
        return cls(SSHRunner(settings), LocalRunner(settings))

    def for_target(self, target: Target) -> Runner:
        return self.local if target.transport == "local" else self.ssh

    @property
    def picker(self) -> Callable[[Target], Runner]:
        return self.for_target
