"""Automation settings from app.config (with defaults), and the runner for each transport."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.automation.local import LocalRunner
from app.automation.ssh import SSHRunner
from app.automation.transport import Runner, RunSettings, Target

DEFAULTS: dict[str, Any] = {
    "SSH_KNOWN_HOSTS": "config/known_hosts",
    "SSH_CONNECT_TIMEOUT": 10,
    "SSH_COMMAND_TIMEOUT": 300,
    "SSH_OUTPUT_CAP": 64 * 1024,
    "SSH_PARALLEL": 10,
    "SSH_REUSE": True,
    "APPROVAL_TIMEOUT": 1800,
    "EXECUTION_STALE_AFTER": 120,
    "EXECUTION_HEARTBEAT": 5,
    "EXECUTION_SWEEP_INTERVAL": 30,
    "DEPLOY_TIMEOUT": 3600,
    "PROMETHEUS_TIMEOUT": 10,
    "ELASTICSEARCH_TIMEOUT": 10,
}


def setting(config: Mapping[str, Any], name: str) -> Any:
    """config[name] when set (not None), else the default above."""
    value = config.get(name)
    return DEFAULTS[name] if value is None else value


def run_settings(config: Mapping[str, Any]) -> RunSettings:
    """RunSettings from app.config."""
    return RunSettings(
        known_hosts=Path(str(setting(config, "SSH_KNOWN_HOSTS"))),
        connect_timeout=float(setting(config, "SSH_CONNECT_TIMEOUT")),
        command_timeout=float(setting(config, "SSH_COMMAND_TIMEOUT")),
        output_cap=int(setting(config, "SSH_OUTPUT_CAP")),
        parallel=int(setting(config, "SSH_PARALLEL")),
        reuse=bool(setting(config, "SSH_REUSE")),
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
