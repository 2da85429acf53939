"""/status figures from Prometheus (PROMETHEUS_URL): node_exporter metrics per inventory host.

Each inventory host maps to node_exporter's `instance` label: `prometheus_instance`
when the inventory sets it (exact), else the host's address with any port
(ADDRESS or ADDRESS:PORT). Label values are built from inventory data only,
regex-escaped and quoted as PromQL strings; user text never reaches a query.

The figures become the same HostHealth the SSH probe gives, so /status grades and
shows them identically. When Prometheus cannot be asked (unreachable, an error
status, an answer that is not a vector) the engine probes those hosts over SSH
instead and the card says so.
"""
from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests

from app.automation.health import HostHealth
from app.automation.redact import redact
from app.automation.sources import Query, SourceRun
from app.automation.transport import Outcome, RunResult
from app.infra.http import shared_session
from app.inventory.schema import Host

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0
# After a failure, skip Prometheus for this long (a /status of a service asks twice; a dead server
# behind a firewall would cost the connect timeout, retries included, each time).
RETRY_AFTER = 15.0
_failures: dict[str, tuple[float, str]] = {}  # base URL -> (monotonic time until which we skip it, why)
_failures_lock = threading.Lock()
# RE2 metacharacters; a backslash before any of them (punctuation) is a literal in RE2 and in Python's re.
_REGEX_SPECIAL = frozenset("\\.+*?()|[]{}^$")
# CPU busy: irate over the last two samples within 5m works for any scrape interval up to 2.5 min.
QUERIES: dict[str, str] = {
    "up": "up{{{sel}}}",
    "uptime": "time() - node_boot_time_seconds{{{sel}}}",
    "load": '{{__name__=~"node_load1|node_load5|node_load15",{sel}}}',
    "cpus": 'count by (instance) (node_cpu_seconds_total{{mode="idle",{sel}}})',
    "cpu": '100 * (1 - avg by (instance) (irate(node_cpu_seconds_total{{mode="idle",{sel}}}[5m])))',
    "memory": "100 * (1 - node_memory_MemAvailable_bytes{{{sel}}} / node_memory_MemTotal_bytes{{{sel}}})",
    # df's Use%: used / (used + available), used = size - free (root's reserved blocks are not "used")
    "disk": "100 * ({size} - {free}) / ({size} - {free} + {avail})".format(
        size='node_filesystem_size_bytes{{mountpoint="/",{sel}}}',
        free='node_filesystem_free_bytes{{mountpoint="/",{sel}}}',
        avail='node_filesystem_avail_bytes{{mountpoint="/",{sel}}}'),
}
UNIT_QUERY = "node_systemd_unit_state{{name={unit},{sel}}}"


class PrometheusUnavailable(Exception):
    """Prometheus could not answer a query (unreachable, timeout, error status, unexpected body)."""


def promql_string(value: str) -> str:
    """value as a double-quoted PromQL string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def regex_escape(value: str) -> str:
    """value as a regex matching itself literally (the same in RE2 and Python's re)."""
    return "".join(f"\\{ch}" if ch in _REGEX_SPECIAL else ch for ch in value)


def instance_regex(host: Host) -> str | None:
    """The regex for this host's `instance` label; None when the host has neither address nor instance."""
    if host.prometheus_instance:
        return regex_escape(host.prometheus_instance)
    if not host.address:
        return None
    address = regex_escape(host.address)
    if ":" in host.address:  # IPv6: Prometheus writes [ADDRESS]:PORT
        return rf"(?:\[{address}\]|{address})(?::[0-9]+)?"
    return rf"{address}(?::[0-9]+)?"


def describe_instance(host: Host) -> str:
    """How a card names the instance a host maps to."""
    if host.prometheus_instance:
        return f'instance="{host.prometheus_instance}"'
    return f'instance {host.address}[:port]'


def selector(regexes: list[str]) -> str:
    """The instance matcher for several hosts at once."""
    return "instance=~" + promql_string("|".join(f"(?:{r})" for r in regexes))


def query(base_url: str, expr: str, timeout: float) -> list[tuple[dict[str, str], float | None]]:
    """(labels, value) for each series of an instant query; PrometheusUnavailable when it cannot be had."""
    url = base_url.rstrip("/") + "/api/v1/query"
    try:
        response = shared_session().get(url, params={"query": expr},
                                        timeout=(min(CONNECT_TIMEOUT, timeout), timeout))
    except requests.RequestException as exc:
        raise PrometheusUnavailable(f"unreachable ({type(exc).__name__})") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
        detail = body.get("error") if isinstance(body, dict) else None
        raise PrometheusUnavailable(f"HTTP {response.status_code}" + (f": {str(detail)[:200]}" if detail else ""))
    data = body.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
        raise PrometheusUnavailable("answer is not an instant vector")
    series = []
    for item in data["result"]:
        try:
            labels = {str(k): str(v) for k, v in item["metric"].items()}
            value: float | None = float(item["value"][1])
        except (KeyError, TypeError, ValueError, IndexError):
            continue
        if value is not None and (math.isnan(value) or math.isinf(value)):
            value = None
        series.append((labels, value))
    return series


def _per_host(series: list[tuple[dict[str, str], float | None]], regexes: dict[str, str]) -> dict[str, list[
        tuple[dict[str, str], float | None]]]:
    found: dict[str, list[tuple[dict[str, str], float | None]]] = {name: [] for name in regexes}
    for labels, value in series:
        instance = labels.get("instance", "")
        for name, regex in regexes.items():
            if re.fullmatch(regex, instance):
                found[name].append((labels, value))
    return found


def _first(values: list[tuple[dict[str, str], float | None]]) -> float | None:
    numbers = [v for _, v in values if v is not None]
    return max(numbers) if numbers else None


def _percent(value: float | None) -> float | None:
    return None if value is None else min(100.0, max(0.0, value))


def _host_result(name: str, host: Host, answers: dict[str, list[tuple[dict[str, str], float | None]]],
                 elapsed: float) -> RunResult:
    load_by_name = {labels.get("__name__"): value for labels, value in answers["load"] if value is not None}
    uptime = _first(answers["uptime"])
    have_node = uptime is not None or bool(load_by_name)
    up_values = [v for _, v in answers["up"] if v is not None]
    if not have_node:
        if up_values and not any(v >= 1 for v in up_values):
            return RunResult(name, Outcome.UNREACHABLE, error=f"down (Prometheus: up=0 for {describe_instance(host)})",
                             elapsed=elapsed, remote_seconds=elapsed)
        why = "no node_exporter metrics" if up_values else "no series"
        return RunResult(name, Outcome.FAILED, error=f"no data in Prometheus ({why} for {describe_instance(host)})",
                         elapsed=elapsed, remote_seconds=elapsed)
    cpus = _first(answers["cpus"])
    health = HostHealth(
        uptime_seconds=max(0.0, uptime or 0.0),
        load=(load_by_name.get("node_load1", 0.0) or 0.0, load_by_name.get("node_load5", 0.0) or 0.0,
              load_by_name.get("node_load15", 0.0) or 0.0),
        cpus=int(cpus) if cpus else 1,
        cpu_percent=_percent(_first(answers["cpu"])),
        memory_percent=_percent(_first(answers["memory"])),
        disk_percent=_percent(_first(answers["disk"])),
    )
    instances = sorted({labels.get("instance", "") for labels, _ in answers["load"] + answers["uptime"]})
    output = json.dumps({**health.to_json(), "instance": ",".join(instances)}, sort_keys=True)
    return RunResult(name, Outcome.OK, exit_code=0, output=output, elapsed=elapsed, remote_seconds=elapsed)


def health(base_url: str, hosts: Mapping[str, Host], names: tuple[str, ...], timeout: float) -> list[RunResult]:
    """One RunResult per named host (output: HostHealth JSON); PrometheusUnavailable when it cannot be asked."""
    regexes = {name: r for name in names if (r := instance_regex(hosts[name])) is not None}
    if not regexes:
        return []
    sel = selector(list(regexes.values()))
    started = time.monotonic()
    answers: dict[str, dict[str, list[tuple[dict[str, str], float | None]]]] = {name: {} for name in regexes}
    for key, template in QUERIES.items():
        found = _per_host(query(base_url, template.format(sel=sel), timeout), regexes)
        for name in regexes:
            answers[name][key] = found[name]
    elapsed = time.monotonic() - started
    return [_host_result(name, hosts[name], answers[name], elapsed) for name in regexes]


def unit_states(base_url: str, hosts: Mapping[str, Host], names: tuple[str, ...], unit: str,
                timeout: float) -> dict[str, str]:
    """host -> the unit's state per node_exporter's systemd collector, for the hosts it reports on."""
    regexes = {name: r for name in names if (r := instance_regex(hosts[name])) is not None}
    if not regexes:
        return {}
    found = _per_host(query(base_url, UNIT_QUERY.format(unit=promql_string(unit), sel=selector(list(regexes.values()))),
                            timeout), regexes)
    states = {}
    for name, values in found.items():
        current = [labels.get("state", "") for labels, value in values if value == 1 and labels.get("state")]
        if current:
            states[name] = current[0]
    return states


def run(query_: Query, hosts: Mapping[str, Host], names: tuple[str, ...], config: Mapping[str, Any]) -> SourceRun:
    """Answer a /status query; on PrometheusUnavailable leave every host to the SSH fallback, with a note."""
    base_url = str(config.get("PROMETHEUS_URL") or "")
    timeout = float(config["PROMETHEUS_TIMEOUT"])
    with _failures_lock:
        until, why = _failures.get(base_url, (0.0, ""))
    if time.monotonic() < until:
        return SourceRun([], names, redact(f"Prometheus {why}; probed over SSH instead"))
    try:
        if query_.what == "health":
            results = health(base_url, hosts, names, timeout)
            answered = {r.host for r in results}
            return SourceRun(results, tuple(n for n in names if n not in answered))
        if query_.what == "unit":
            unit = str(query_.values["unit"])
            started = time.monotonic()
            states = unit_states(base_url, hosts, names, unit, timeout)
            elapsed = time.monotonic() - started
            results = [RunResult(name, Outcome.OK if state == "active" else Outcome.FAILED,
                                 exit_code=0 if state == "active" else 3, output=state + "\n", elapsed=elapsed,
                                 remote_seconds=elapsed)
                       for name, state in states.items()]
            return SourceRun(results, tuple(n for n in names if n not in states))
    except PrometheusUnavailable as exc:
        with _failures_lock:
            _failures[base_url] = (time.monotonic() + RETRY_AFTER, str(exc))
        note = redact(f"Prometheus {exc}; probed over SSH instead")
        logger.warning("prometheus unavailable; falling back to ssh", extra={"error": str(exc)})
        return SourceRun([], names, note)
    raise ValueError(f"unknown prometheus query {query_.what!r}")
