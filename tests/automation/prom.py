"""A real node_exporter and Prometheus on loopback ports, started by the tests (Debian's packages).

Prometheus scrapes the node_exporter every second; start_prometheus() returns once
`up` is 1 and rate() has two samples to work with (bounded wait).
"""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.automation.sshd import free_port

PROMETHEUS = "/usr/bin/prometheus"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
READY_TIMEOUT = 25.0
UNIT_STATES = {"nginx.service": "active", "postgresql.service": "failed"}


@dataclass
class PromStack:
    url: str
    node_instance: str
    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


def available() -> bool:
    return Path(PROMETHEUS).is_file() and Path(NODE_EXPORTER).is_file()


def _query(url: str, expr: str) -> list[dict[str, object]]:
    try:
        body = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=2).json()
    except (requests.RequestException, ValueError):
        return []
    result = body.get("data", {}).get("result", []) if body.get("status") == "success" else []
    return list(result)


def start_prometheus(workdir: Path) -> PromStack:
    """node_exporter and Prometheus scraping it every second; ready when up == 1 and rate() answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    node_port, prom_port = free_port(), free_port()
    node_instance = f"127.0.0.1:{node_port}"
    stack = PromStack(f"http://127.0.0.1:{prom_port}", node_instance, workdir)
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    # Unit states as node_exporter's systemd collector reports them (there is no systemd here to ask):
    # the textfile collector serves the same series, scraped and stored by the real Prometheus.
    textfiles = workdir / "textfile"
    textfiles.mkdir(exist_ok=True)
    (textfiles / "units.prom").write_text("# TYPE node_systemd_unit_state gauge\n" + "".join(
        f'node_systemd_unit_state{{name="{unit}",state="{state}",type="simple"}} {int(state == current)}\n'
        for unit, current in UNIT_STATES.items() for state in ("activating", "active", "deactivating", "failed",
                                                                 "inactive")
    ))
    # The root filesystem of a container may be overlay, which node_exporter skips by default.
    stack.processes.append(subprocess.Popen(
        [NODE_EXPORTER, f"--web.listen-address={node_instance}", "--collector.filesystem.fs-types-exclude=^(proc|sysfs)$",
         "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys)($|/)",
         f"--collector.textfile.directory={textfiles}"],
        stdout=(logs / "node.out").open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    ))
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: node\n    static_configs:\n"
        f"      - targets: ['{node_instance}']\n"
    )
    stack.processes.append(subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}", "--storage.tsdb.retention.time=1h"],
        stdout=(logs / "prometheus.out").open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    ))
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in stack.processes):
            break
        up = _query(stack.url, f'up{{instance="{node_instance}"}}')
        rate = _query(stack.url, f'irate(node_cpu_seconds_total{{instance="{node_instance}",mode="idle"}}[1m])')
        if up and up[0]["value"][1] == "1" and rate:  # type: ignore[index]
            return stack
        time.sleep(0.25)
    stack.stop()
    output = "\n".join(p.read_text(errors="replace")[-2000:] for p in logs.iterdir())
    raise RuntimeError(f"Prometheus/node_exporter not ready within {READY_TIMEOUT}s:\n{output}")


def remove(stack: PromStack) -> None:
    stack.stop()
    shutil.rmtree(stack.workdir, ignore_errors=True)
