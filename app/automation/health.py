"""Host health for /status: the read-only probe command, parsing its output, green/amber/red grading."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.automation.argv import Command

# Read-only, fixed: no user text. Two /proc/stat samples 0.2 s apart give CPU use.
PROBE = Command(
    (
        ("cat", "/proc/uptime", "/proc/loadavg", "/proc/meminfo"),
        ("nproc",),
        ("df", "-Pk", "/"),
        ("head", "-n1", "/proc/stat"),
        ("sleep", "0.2"),
        ("head", "-n1", "/proc/stat"),
    ),
    op="&&",
)


@dataclass(frozen=True)
class Thresholds:
    """Amber and red limits, in percent (load is per CPU, times 100)."""

    amber: float = 80.0
    red: float = 90.0


@dataclass(frozen=True)
class HostHealth:
    """What the probe found on one host."""

    uptime_seconds: float
    load: tuple[float, float, float]
    cpus: int
    cpu_percent: float | None
    memory_percent: float | None
    disk_percent: float | None

    @property
    def load_percent(self) -> float:
        return 100.0 * self.load[0] / max(self.cpus, 1)

    def to_json(self) -> dict[str, object]:
        """A JSON object (how metrics from Prometheus are stored on the execution's host rows)."""
        return {"uptime_seconds": self.uptime_seconds, "load": list(self.load), "cpus": self.cpus,
                "cpu_percent": self.cpu_percent, "memory_percent": self.memory_percent,
                "disk_percent": self.disk_percent}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostHealth:
        """HostHealth from to_json's object; KeyError/TypeError/ValueError when it is not one."""
        def opt(name: str) -> float | None:
            value = data.get(name)
            return None if value is None else float(value)

        load = [float(v) for v in data["load"]]
        return cls(float(data["uptime_seconds"]), (load[0], load[1], load[2]), int(data["cpus"]),
                   opt("cpu_percent"), opt("memory_percent"), opt("disk_percent"))


def _cpu_times(line: str) -> tuple[int, int]:
    """(busy, total) jiffies from a /proc/stat 'cpu' line."""
    values = [int(v) for v in line.split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


def parse_probe(output: str) -> HostHealth:
    """HostHealth from the PROBE output; ValueError when the output is not what the probe prints."""
    lines = [line for line in output.splitlines() if line.strip()]
    uptime = float(lines[0].split()[0])
    load_fields = lines[1].split()
    load = (float(load_fields[0]), float(load_fields[1]), float(load_fields[2]))
    meminfo = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+):\s+(\d+)", output, re.MULTILINE)}
    total = meminfo["MemTotal"]
    available = meminfo.get("MemAvailable", meminfo.get("MemFree", 0))
    memory = 100.0 * (total - available) / total if total else 0.0
    cpus = next(int(line) for line in lines if line.strip().isdigit())
    df_line = next(line for line in lines if re.search(r"\s\d+%\s+/$", line))
    disk = float(re.search(r"(\d+)%", df_line).group(1))  # type: ignore[union-attr]
    cpu_lines = [line for line in lines if line.startswith("cpu ")]
    cpu_percent: float | None = None
    if len(cpu_lines) >= 2:
        (busy1, total1), (busy2, total2) = _cpu_times(cpu_lines[0]), _cpu_times(cpu_lines[-1])
        if total2 > total1:
            cpu_percent = 100.0 * (busy2 - busy1) / (total2 - total1)
    return HostHealth(uptime, load, cpus, cpu_percent, memory, disk)


def grade(health: HostHealth | None, thresholds: Thresholds = Thresholds()) -> str:
    """green, amber or red: red when unreachable or any figure is past red, amber past amber."""
    if health is None:
        return "red"
    figures = [health.load_percent]
    figures += [f for f in (health.memory_percent, health.disk_percent, health.cpu_percent) if f is not None]
    worst = max(figures)
    if worst >= thresholds.red:
        return "red"
    if worst >= thresholds.amber:
        return "amber"
    return "green"


def format_uptime(seconds: float) -> str:
    """'3d 4h' / '5h 12m' / '42m'."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"
