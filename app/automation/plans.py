"""Validate a request against the inventory and turn it into a Plan: steps of argv on named hosts.

Every name must exist in the inventory; every free value passes check_value
(no control characters, no leading dash, no '..' path segment) and its declared
pattern. The same arguments always build the same plan, so the digest stored
at request time proves that what runs is what was approved.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.automation import http_step
from app.automation.argv import Command, TemplateError, render
from app.automation.health import PROBE
from app.automation.http_step import HttpRequest
from app.automation.models import ExecutionKind
from app.automation.redact import redact
from app.automation.sources import Query, Sources
from app.durations import format_duration, parse_duration
from app.errors import UsageError
from app.inventory.schema import Inventory, Role, Runbook

VERSION_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}"
LOG_LINES_DEFAULT = 100
LOG_LINES_MAX = 1000
LOG_SCAN_MAX = 20000
SINCE_MAX = 7 * 86400
GREP_MAX = 200
VALUE_MAX = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NO_SOURCES = Sources()  # neither Prometheus nor Elasticsearch: everything over SSH


@dataclass(frozen=True)
class Step:
    """One command run on each of its hosts (in parallel), a Query a source answers for them, or an HTTP call.

    A Query step may name a fallback command: the engine runs it (recorded under
    fallback_name) on the hosts the source could not answer for. A check step
    (retries or deadline set) runs its command again on the hosts that failed, every
    `interval` seconds, until it passes everywhere or `deadline` seconds have passed.
    """

    name: str
    hosts: tuple[str, ...]
    command: Command | Query | HttpRequest
    fallback: Command | None = None
    fallback_name: str | None = None
    retries: int = 0
    interval: int = 0
    deadline: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "hosts": list(self.hosts), "command": self.command.to_json()}
        if self.fallback is not None:
            data["fallback"] = {"name": self.fallback_name, "command": self.fallback.to_json()}
        if self.retries or self.deadline is not None:  # only then: older plans keep their digests
            data["check"] = {"retries": self.retries, "interval": self.interval, "deadline": self.deadline}
        return data

    @property
    def where(self) -> str:
        """The hosts, or for an HTTP call the host it goes to."""
        if isinstance(self.command, HttpRequest):
            return self.command.host
        return ", ".join(self.hosts)


@dataclass(frozen=True)
class Plan:
    """What an execution will do, validated: its steps, who may do it, and how."""

    kind: ExecutionKind
    target: str
    args: dict[str, Any]
    steps: tuple[Step, ...]
    role: Role = Role.USER
    approval: bool = False
    approvers: tuple[str, ...] = ()
    lock: str | None = None
    stop_on_failure: bool = True
    meta: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        """sha256 over the steps: two plans with the same digest run the same commands."""
        body = json.dumps([step.to_json() for step in self.steps], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    def describe(self) -> list[str]:
        """One redacted line per step: 'name on h1, h2: command line'."""
        return [f"{step.name} on {step.where}: {redact(step.command.shell_line())}" for step in self.steps]

    @property
    def hosts(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for step in self.steps:
            seen.update(dict.fromkeys(step.hosts))
        return tuple(seen)


def check_value(name: str, value: str, *, pattern: str | None = None, max_length: int = VALUE_MAX) -> str:
    """value if it is safe to pass as one argv element; UsageError naming the argument otherwise."""
    if not value:
        raise UsageError(f"{name} is empty")
    if len(value) > max_length:
        raise UsageError(f"{name} is too long (at most {max_length} characters)")
    if _CONTROL.search(value):
        raise UsageError(f"{name} may not contain control characters or newlines")
    if value.startswith("-"):
        raise UsageError(f"{name} may not start with '-'")
    if ".." in re.split(r"[/\\]", value):
        raise UsageError(f"{name} may not contain a '..' path segment")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise UsageError(f"{name}: {value!r} is not allowed here")
    return value


def _known(kind: str, name: str, known: Mapping[str, Any]) -> str:
    if name not in known:
        choices = ", ".join(sorted(known)) or "none configured"
        raise UsageError(f"unknown {kind} {name!r} (known: {choices})")
    return name


def _pick_hosts(candidates: list[str], host: str | None, what: str) -> tuple[str, ...]:
    if host is None:
        if not candidates:
            raise UsageError(f"{what} has no hosts in the inventory")
        return tuple(candidates)
    if host not in candidates:
        raise UsageError(f"host {host!r} is not one of {what}'s hosts ({', '.join(candidates) or 'none'})")
    return (host,)


def plan_status(inv: Inventory, selector: str | None, sources: Sources = NO_SOURCES) -> Plan:
    """Probe the hosts of a host name, a service (and its unit), a tag, or every host.

    With Prometheus, hosts it can name (address or prometheus_instance) get their
    figures from it, with the SSH probe as the fallback; a service's unit state
    comes from node_exporter's systemd collector where it reports, else over SSH.
    """
    steps: list[Step] = []
    if selector is None:
        hosts, target = list(inv.hosts), "all hosts"
    elif selector in inv.hosts:
        hosts, target = [selector], f"host {selector}"
    elif selector in inv.services:
        service = inv.services[selector]
        hosts, target = list(service.hosts), f"service {selector}"
        if service.unit:
            is_active = Command.of("systemctl", "is-active", service.unit)
            if sources.prometheus:
                steps.append(Step("unit", tuple(hosts), Query.of("prometheus", "unit", unit=service.unit),
                                  fallback=is_active, fallback_name="unit"))
            else:
                steps.append(Step("unit", tuple(hosts), is_active))
    else:
        hosts = [name for name, host in inv.hosts.items() if selector in host.tags]
        target = f"tag {selector}"
        if not hosts:
            raise UsageError(f"{selector!r} is not a host, service or tag in the inventory")
    if not hosts:
        raise UsageError(f"no hosts for {target}")
    mapped = [h for h in hosts if inv.hosts[h].prometheus_instance or inv.hosts[h].address] \
        if sources.prometheus else []
    direct = [h for h in hosts if h not in mapped]
    if direct:
        steps.insert(0, Step("probe", tuple(direct), PROBE))
    if mapped:
        steps.insert(0, Step("metrics", tuple(mapped), Query.of("prometheus", "health"), fallback=PROBE,
                             fallback_name="probe"))
    return Plan(ExecutionKind.STATUS, target, {"selector": selector}, tuple(steps), role=Role.USER,
                stop_on_failure=False)


def plan_logs(
    inv: Inventory, service: str, lines: int | None = None, host: str | None = None, since: str | None = None,
    grep: str | None = None, sources: Sources = NO_SOURCES,
) -> Plan:
    """Recent log lines of a service from the journal or its log file (or Elasticsearch); grep is literal."""
    svc = inv.services[_known("service", service, inv.services)]
    hosts = _pick_hosts(svc.hosts, host, service)
    count = min(int(lines or LOG_LINES_DEFAULT), LOG_LINES_MAX)
    if count <= 0:
        raise UsageError("lines must be a positive number")
    since_seconds = None
    if since is not None:
        try:
            since_seconds = parse_duration(since)
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from None
        if since_seconds > SINCE_MAX:
            raise UsageError(f"--since is at most {format_duration(SINCE_MAX)}")
    if grep is not None:
        grep = check_value_text("--grep", grep)
    args = {"service": service, "lines": count, "host": host, "since": since, "grep": grep}
    if sources.elasticsearch:
        search = Query.of("elasticsearch", "logs", index=svc.es_index, service_field=svc.es_service_field,
                          service=service, host=host, since_seconds=since_seconds, grep=grep, lines=count)
        return Plan(ExecutionKind.LOGS, f"logs {service}", args, (Step("logs", hosts, search),),
                    role=Role.OPERATOR, stop_on_failure=False, meta={"lines": count, "source": "elasticsearch"})
    if svc.log == "journal":
        if not svc.unit:
            raise UsageError(f"service {service} has no unit to read the journal of")
        source = ["journalctl", "-u", svc.unit, "--no-pager", "-o", "short-iso"]
        if since_seconds is not None:
            source.append(f"--since=-{since_seconds}s")
        source += ["-n", str(LOG_SCAN_MAX if grep is not None else count)]
    else:
        if since_seconds is not None:
            raise UsageError("--since only works for journal logs")
        source = ["tail", "-n", str(LOG_SCAN_MAX if grep is not None else count), "--", svc.log]
    stages: list[tuple[str, ...]] = [tuple(source)]
    if grep is not None:
        stages += [("grep", "-F", "-e", grep), ("tail", "-n", str(count))]
    return Plan(ExecutionKind.LOGS, f"logs {service}", args, (Step("logs", hosts, Command(tuple(stages))),),
                role=Role.OPERATOR, stop_on_failure=False, meta={"lines": count})


def check_value_text(name: str, value: str) -> str:
    """Free text (only where a command declares it): any characters but control characters, passed literally."""
    if not value:
        raise UsageError(f"{name} is empty")
    if len(value) > GREP_MAX:
        raise UsageError(f"{name} is too long (at most {GREP_MAX} characters)")
    if _CONTROL.search(value):
        raise UsageError(f"{name} may not contain control characters or newlines")
    return value


def plan_restart(inv: Inventory, service: str, host: str | None = None) -> Plan:
    """systemctl restart the service's unit on its hosts, then check it is active."""
    svc = inv.services[_known("service", service, inv.services)]
    if not svc.unit:
        raise UsageError(f"service {service} has no systemd unit in the inventory")
    hosts = _pick_hosts(svc.hosts, host, service)
    steps = (
        Step("restart", hosts, Command.of("systemctl", "restart", svc.unit)),
        Step("check", hosts, Command.of("systemctl", "is-active", svc.unit)),
    )
    return Plan(ExecutionKind.RESTART, f"restart {service}", {"service": service, "host": host}, steps,
                role=Role.OPERATOR)


def plan_deploy(inv: Inventory, app: str, env: str, version: str | None = None) -> Plan:
    """The app's pipeline on the environment's hosts, step by step; approval and lock per environment."""
    pipeline = inv.deploy[_known("app", app, inv.deploy)]
    environment = pipeline.environments[_known(f"environment of {app}", env, pipeline.environments)]
    if version is not None:
        check_value("version", version, pattern=VERSION_PATTERN, max_length=64)
    values = {"version": version, "app": app, "env": env}
    steps = []
    for index, step in enumerate(pipeline.steps, start=1):
        template = step.run if step.run is not None else step.check
        assert template is not None
        name = f"{index}. {'run' if step.run is not None else 'check'}"
        steps.append(Step(name, tuple(environment.hosts), Command((render(template, values),))))
    return Plan(
        ExecutionKind.DEPLOY, f"deploy {app} {env}", {"app": app, "env": env, "version": version}, tuple(steps),
        role=max(Role.OPERATOR, environment.role, key=lambda r: r.rank), approval=environment.approval,
        approvers=tuple(environment.approvers), lock=f"deploy:{app}:{env}",
    )


def plan_run(inv: Inventory, runbook: str, values: Mapping[str, str], host: str | None = None) -> Plan:
    """A runbook with its declared arguments: its steps in order, commands on its hosts (or --host)."""
    book = inv.runbooks[_known("runbook", runbook, inv.runbooks)]
    unknown = sorted(set(values) - set(book.args))
    if unknown:
        declared = ", ".join(sorted(book.args)) or "none"
        raise UsageError(f"runbook {runbook} has no argument {unknown[0]!r} (declared: {declared})")
    used = book.placeholders()
    checked: dict[str, str | None] = {}
    for name, spec in book.args.items():
        value = values.get(name)
        if value is None:
            if spec.required and name in used:
                raise UsageError(f"runbook {runbook} needs {name}=VALUE")
            checked[name] = None
            continue
        checked[name] = check_value(name, value, pattern=spec.pattern)
    hosts: tuple[str, ...] = ()
    if book.on_hosts:
        if book.hosts:
            hosts = _pick_hosts(list(book.hosts), host, f"runbook {runbook}")
        elif host is not None:
            hosts = (_known("host", host, inv.hosts),)
        else:
            raise UsageError(f"runbook {runbook} declares no hosts: say where with --host")
    elif host is not None:
        raise UsageError(f"runbook {runbook} runs nothing on hosts; --host does not apply")
    args = {"runbook": runbook, "args": {k: v for k, v in checked.items() if v is not None}, "host": host}
    return Plan(ExecutionKind.RUN, f"run {runbook}", args, _runbook_steps(book, hosts, checked), role=book.role)


def _runbook_steps(book: Runbook, hosts: tuple[str, ...], values: Mapping[str, str | None]) -> tuple[Step, ...]:
    """Plan steps for a runbook; the single `run:` form stays one step named "run" (same digest as before)."""
    if book.steps is None:
        return (Step("run", hosts, Command((render(book.run, values),))),)
    steps = []
    for index, spec in enumerate(book.steps, start=1):
        name = f"{index}. {spec.kind}"
        if spec.http is not None:
            try:
                steps.append(Step(name, (), http_step.build(spec.http, values)))
            except TemplateError as exc:
                raise UsageError(f"step {index}: {exc.user_message}") from None
        elif spec.check is not None:
            steps.append(Step(name, hosts, Command((render(spec.check, values),)), retries=spec.retries,
                              interval=spec.interval, deadline=spec.timeout))
        else:
            assert spec.run is not None
            steps.append(Step(name, hosts, Command((render(spec.run, values),))))
    return tuple(steps)


def build(kind: ExecutionKind | str, args: Mapping[str, Any], inv: Inventory, sources: Sources = NO_SOURCES) -> Plan:
    """The plan for kind with args as stored on an Execution (the worker rebuilds it with this)."""
    kind = ExecutionKind(kind)
    if kind is ExecutionKind.STATUS:
        return plan_status(inv, args.get("selector"), sources)
    if kind is ExecutionKind.LOGS:
        return plan_logs(inv, args["service"], args.get("lines"), args.get("host"), args.get("since"), args.get("grep"),
                         sources)
    if kind is ExecutionKind.RESTART:
        return plan_restart(inv, args["service"], args.get("host"))
    if kind is ExecutionKind.DEPLOY:
        return plan_deploy(inv, args["app"], args["env"], args.get("version"))
    return plan_run(inv, args["runbook"], args.get("args") or {}, args.get("host"))
