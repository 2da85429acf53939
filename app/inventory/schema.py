"""The inventory file's shape (contract.md), as strict pydantic models.

Unknown keys are errors (extra="forbid"); cross references are checked in
Inventory's model validator so every message names the key at fault.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from app.durations import parse_duration


class Role(StrEnum):
    """Roles, lowest to highest; comparisons follow that order."""

    USER = "user"
    AUDITOR = "auditor"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


def _duration(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 5m")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("expected a duration such as 5m")


Duration = Annotated[int, BeforeValidator(_duration)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
OpenId = Annotated[str, Field(min_length=3, max_length=128, pattern=r"^ou_[A-Za-z0-9_-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserEntry(Strict):
    open_id: OpenId
    name: str = Field(min_length=1)
    role: Role = Role.USER


class Host(Strict):
    transport: Literal["ssh", "local"] = "ssh"
    address: str | None = None
    port: int = Field(default=22, ge=1, le=65535)
    user: str | None = None
    key_file: str | None = None
    tags: list[Name] = []
    # How Prometheus names this host's node_exporter (instance label), when not ADDRESS or ADDRESS:PORT
    prometheus_instance: str | None = Field(default=None, min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")

    @model_validator(mode="after")
    def _ssh_needs_address(self) -> Host:
        if self.transport == "ssh" and not self.address:
            raise ValueError("an ssh host needs an address (or set transport: local)")
        return self


class Service(Strict):
    hosts: list[Name] = []
    unit: str | None = Field(default=None, pattern=r"^[A-Za-z0-9@_.:-]+$")
    log: str = "journal"
    owners: list[OpenId] = []
    oncall: Name | None = None
    # /logs from Elasticsearch (ELASTICSEARCH_URL): the index (pattern) and the field naming the service
    es_index: str = Field(default="logs-*", max_length=255, pattern=r"^[a-z0-9*][a-z0-9*,._+-]*$")
    es_service_field: str = Field(default="service.name", max_length=128, pattern=r"^[A-Za-z0-9@_][A-Za-z0-9@_.-]*$")


class Environment(Strict):
    hosts: list[Name] = Field(min_length=1)
    approval: bool = False
    role: Role = Role.OPERATOR          # lowest role that may deploy here (and approve)
    approvers: list[OpenId] = []        # when set, only these people may approve


class Step(Strict):
    run: str | None = None
    check: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        if (self.run is None) == (self.check is None):
            raise ValueError("a step has exactly one of run or check")
        return self


class DeployApp(Strict):
    environments: dict[Name, Environment] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)


class RunbookArg(Strict):
    pattern: str = r"^[A-Za-z0-9_.:/-]+$"
    description: str = ""
    required: bool = True


class Runbook(Strict):
    description: str = ""
    role: Role = Role.OPERATOR
    run: str = Field(min_length=1)
    hosts: list[Name] = []
    args: dict[Name, RunbookArg] = {}


Notify = Literal["card", "urgent_app", "urgent_sms", "urgent_phone", "log"]


class Route(Strict):
    match: dict[str, str] = {}
    chat: str | None = None
    notify: list[Notify] = Field(default_factory=lambda: ["log"], min_length=1)

    @model_validator(mode="after")
    def _card_needs_chat(self) -> Route:
        if any(kind != "log" for kind in self.notify) and not self.chat:
            raise ValueError("notify other than log needs a chat")
        return self


class Remediation(Strict):
    match: dict[str, str] = {}
    runbook: Name
    max_per_hour: int = Field(default=1, ge=1)
    # Where a host-less runbook may run besides the alert's service hosts (services.<svc>.hosts)
    hosts: list[Name] = []


class Alerting(Strict):
    dedup_window: Duration = 300
    routes: list[Route] = []
    remediation: list[Remediation] = []


class Schedule(Strict):
    members: list[OpenId] = Field(min_length=1)
    rotation: Literal["daily", "weekly"] = "weekly"
    escalate_after: Duration = 600


class Inventory(Strict):
    users: list[UserEntry] = []
    default_role: Role = Role.USER
    hosts: dict[Name, Host] = {}
    services: dict[Name, Service] = {}
    deploy: dict[Name, DeployApp] = {}
    runbooks: dict[Name, Runbook] = {}
    alerting: Alerting = Alerting()
    oncall: dict[Name, Schedule] = {}


def reference_problems(inv: Inventory) -> list[tuple[str, str]]:
    """(key, reason) for every reference to a host, user, schedule or runbook that does not exist."""
    problems: list[tuple[str, str]] = []
    known_users = {u.open_id for u in inv.users}
    seen: set[str] = set()
    for i, user in enumerate(inv.users):
        if user.open_id in seen:
            problems.append((f"users.{i}.open_id", f"duplicate open_id {user.open_id!r}"))
        seen.add(user.open_id)

    def need(kind: str, known: Any, name: str, where: str) -> None:
        if name not in known:
            problems.append((where, f"unknown {kind} {name!r}"))

    for sname, svc in inv.services.items():
        for i, host in enumerate(svc.hosts):
            need("host", inv.hosts, host, f"services.{sname}.hosts.{i}")
        for i, owner in enumerate(svc.owners):
            need("user", known_users, owner, f"services.{sname}.owners.{i}")
        if svc.oncall:
            need("oncall schedule", inv.oncall, svc.oncall, f"services.{sname}.oncall")
    for app_name, app in inv.deploy.items():
        for env_name, env in app.environments.items():
            for i, host in enumerate(env.hosts):
                need("host", inv.hosts, host, f"deploy.{app_name}.environments.{env_name}.hosts.{i}")
    for rname, runbook in inv.runbooks.items():
        for i, host in enumerate(runbook.hosts):
            need("host", inv.hosts, host, f"runbooks.{rname}.hosts.{i}")
    for i, rule in enumerate(inv.alerting.remediation):
        need("runbook", inv.runbooks, rule.runbook, f"alerting.remediation.{i}.runbook")
        for j, host in enumerate(rule.hosts):
            need("host", inv.hosts, host, f"alerting.remediation.{i}.hosts.{j}")
    for sched_name, sched in inv.oncall.items():
        for i, member in enumerate(sched.members):
            need("user", known_users, member, f"oncall.{sched_name}.members.{i}")
    return problems
