"""The inventory file's shape (contract.md), as strict pydantic models.

Unknown keys are errors (extra="forbid"); cross references are checked in
Inventory's model validator so every message names the key at fault.
"""
from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

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


PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENV_REF = re.compile(r"\$\{env:([^}]*)\}")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# OpenClaw's own secrets may not be sent anywhere by a runbook, whatever the inventory says.
OWN_SETTINGS_PREFIXES = ("FEISHU_", "LLM_", "SECRET_KEY", "AUDIT_KEY", "DATABASE_URL", "REDIS_URL", "ALERT_WEBHOOK")


def _env_names(text: str) -> list[str]:
    """Names referenced as ${env:NAME} in text; ValueError for a malformed or forbidden one."""
    names = ENV_REF.findall(text)
    for name in names:
        if not ENV_NAME.match(name):
            raise ValueError(f"${{env:{name}}} is not an environment variable name")
        if name.upper().startswith(OWN_SETTINGS_PREFIXES):
            raise ValueError(f"${{env:{name}}}: OpenClaw's own settings cannot be sent by a runbook")
    return names


def _strings(value: Any) -> list[str]:
    """Every string in a JSON-like value (dict values and list items, recursively)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


class HttpCall(Strict):
    """An http runbook step: the host part of url is fixed here; arguments may fill path and query only."""

    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(min_length=1, max_length=2048)
    headers: dict[str, str] = {}
    body: Any = Field(default=None, alias="json")
    expect: list[Annotated[int, Field(ge=100, le=599)]] = [200]
    timeout: Annotated[Duration, Field(ge=1, le=600)] = 10

    @model_validator(mode="before")
    @classmethod
    def _one_status(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("expect"), int):
            return {**data, "expect": [data["expect"]]}
        return data

    @model_validator(mode="after")
    def _safe(self) -> HttpCall:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url must start with http:// or https:// and name a host (got {self.url!r})")
        if "{" in parts.netloc or "}" in parts.netloc or "$" in parts.netloc:
            raise ValueError("url: placeholders may fill the path and query only, never the host")
        if "@" in parts.netloc:
            raise ValueError("url: no credentials in the url; send them in a header from ${env:NAME}")
        if "${" in self.url or _CONTROL.search(self.url):
            raise ValueError("url: no ${env:...} or control characters in the url; secrets go in headers")
        for name, value in self.headers.items():
            if not HEADER_NAME.match(name):
                raise ValueError(f"headers: {name!r} is not a header name")
            if _CONTROL.search(value):
                raise ValueError(f"headers.{name}: no control characters or newlines")
            _env_names(value)
        for text in _strings(self.body):
            _env_names(text)
        return self

    def placeholders(self) -> set[str]:
        texts = [self.url, *self.headers.values(), *_strings(self.body)]
        return {name for text in texts for name in PLACEHOLDER.findall(text)}


class RunbookStep(Strict):
    """One step of a runbook: a command on its hosts, a check retried until it passes, or an HTTP call."""

    run: str | None = Field(default=None, min_length=1)
    check: str | None = Field(default=None, min_length=1)
    http: HttpCall | None = None
    retries: int = Field(default=0, ge=0, le=100)
    interval: Annotated[Duration, Field(ge=1, le=3600)] = 5
    timeout: Annotated[Duration, Field(ge=1, le=86400)] = 60

    @model_validator(mode="after")
    def _exactly_one(self) -> RunbookStep:
        if sum(part is not None for part in (self.run, self.check, self.http)) != 1:
            raise ValueError("a step has exactly one of run, check or http")
        extra = {"retries", "interval", "timeout"} & self.model_fields_set
        if extra and self.check is None:
            raise ValueError(f"{', '.join(sorted(extra))} only apply to a check step")
        return self

    @property
    def kind(self) -> str:
        return "run" if self.run is not None else "check" if self.check is not None else "http"

    def placeholders(self) -> set[str]:
        if self.http is not None:
            return self.http.placeholders()
        return set(PLACEHOLDER.findall(self.run or self.check or ""))

    def describe(self) -> str:
        """The step as the admin inventory page shows it."""
        if self.http is not None:
            return f"http {self.http.method} {self.http.url} (expect {', '.join(map(str, self.http.expect))})"
        if self.check is not None:
            return f"check {self.check} (retries {self.retries}, every {self.interval}s, within {self.timeout}s)"
        return f"run {self.run}"


class Runbook(Strict):
    """A runbook: the single `run:` command, or `steps:` run in order until the first failure."""

    description: str = ""
    role: Role = Role.OPERATOR
    run: str | None = Field(default=None, min_length=1)
    steps: list[RunbookStep] | None = Field(default=None, min_length=1, max_length=50)
    hosts: list[Name] = []
    args: dict[Name, RunbookArg] = {}

    @model_validator(mode="after")
    def _run_or_steps(self) -> Runbook:
        if (self.run is None) == (self.steps is None):
            raise ValueError("a runbook has exactly one of run or steps")
        for index, step in enumerate(self.step_list):
            unknown = sorted(step.placeholders() - set(self.args))
            if unknown:
                where = f"steps.{index}" if self.steps is not None else "run"
                raise ValueError(f"{where}: {{{unknown[0]}}} is not a declared argument (declare it under args)")
        return self

    @property
    def step_list(self) -> list[RunbookStep]:
        """The steps, with the single `run:` form as one run step."""
        return self.steps if self.steps is not None else [RunbookStep(run=self.run)]

    @property
    def on_hosts(self) -> bool:
        """Whether any step runs a command on hosts (an http-only runbook needs none)."""
        return any(step.http is None for step in self.step_list)

    def placeholders(self) -> set[str]:
        return {name for step in self.step_list for name in step.placeholders()}


Notify = Literal["card", "urgent_app", "urgent_sms", "urgent_phone", "log"]


EnvName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class CustomBot(Strict):
    """A group's custom bot webhook: used when the app is not in the chat or its API is failing.

    The signing secret never sits in this file: secret_env names the environment variable holding it.
    """

    url: str = Field(pattern=r"^https?://[^\s/]+(:[0-9]+)?/open-apis/bot/v2/hook/[A-Za-z0-9_-]+$")
    secret_env: EnvName | None = None


class Route(Strict):
    match: dict[str, str] = {}
    chat: str | None = None
    notify: list[Notify] = Field(default_factory=lambda: ["log"], min_length=1)
    custom_bot: CustomBot | None = None

    @model_validator(mode="after")
    def _card_needs_chat(self) -> Route:
        if any(kind.startswith("urgent_") for kind in self.notify) and not self.chat:
            raise ValueError("urgent notifications need a chat (a custom bot cannot buzz)")
        if any(kind != "log" for kind in self.notify) and not (self.chat or self.custom_bot):
            raise ValueError("notify other than log needs a chat or a custom_bot")
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


class WeeklyReport(Strict):
    """Where and when the weekly ops report is posted (local time, TIMEZONE)."""

    chats: list[str] = []
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    time: str = Field(default="09:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class Reports(Strict):
    weekly: WeeklyReport = WeeklyReport()


ModelName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]*$")]
ApiKeyEnv = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Z][A-Z0-9_]*_API_KEY$")]


class ModelDefaults(Strict):
    """Parameters a request gets when it does not set them itself."""

    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)


class ModelEntry(Strict):
    """A public model name served by the AI gateway, and the upstream that answers it."""

    provider: Literal["ollama", "openai"]
    base_url: str = Field(min_length=1, pattern=r"^https?://[^\s]+$")
    model: ModelName | None = None         # the upstream's own name (default: the public name)
    api_key_env: ApiKeyEnv | None = None  # environment variable (NAME_API_KEY) holding the upstream's key
    connect_timeout: Duration = Field(default=3, ge=1)
    read_timeout: Duration = Field(default=120, ge=1)  # longest silence from the upstream
    defaults: ModelDefaults = ModelDefaults()
    think: Literal["strip", "pass"] = "strip"
    fallbacks: list[ModelName] = []
    max_concurrency: int = Field(default=16, ge=1)    # requests in flight to this upstream, all gateway processes
    max_queue: int = Field(default=64, ge=0)          # requests waiting for a slot before 429
    queue_timeout: Duration = Field(default=10, ge=0)  # longest wait for a slot


class LimitSet(Strict):
    """Per-user (or per-token) allowances; unset inherits, 0 means unlimited."""

    requests_per_minute: int | None = Field(default=None, ge=0)
    tokens_per_day: int | None = Field(default=None, ge=0)
    concurrency: int | None = Field(default=None, ge=0)


class Gateway(Strict):
    """The AI gateway's limits: built-in defaults (100 requests/min, concurrency 5, tokens unlimited),
    overridden by `limits`, then per role, then per user (login or open_id)."""

    limits: LimitSet = LimitSet()
    roles: dict[Role, LimitSet] = {}
    users: dict[str, LimitSet] = {}
MenuKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
def _slash_command(value: str) -> str:
    if not re.fullmatch(r"/[a-z][^\x00-\x1f\x7f]{0,499}", value):
        raise ValueError("expected one slash command on one line, such as /status")
    return value


# It runs through the router exactly as if the clicking person had typed it.
MenuCommand = Annotated[str, AfterValidator(_slash_command)]


class Feishu(Strict):
    """Feishu-side settings: the bot menu's event keys mapped to the commands they run."""

    menu: dict[MenuKey, MenuCommand] = {}
class BitableTables(Strict):
    """Which Bitable table (tbl...) receives each kind of record; a kind left out is not exported."""

    alerts: str | None = Field(default=None, pattern=r"^tbl[A-Za-z0-9]{1,60}$")
    incidents: str | None = Field(default=None, pattern=r"^tbl[A-Za-z0-9]{1,60}$")
    executions: str | None = Field(default=None, pattern=r"^tbl[A-Za-z0-9]{1,60}$")


class BitableExport(Strict):
    """A Feishu Bitable (多维表格) the bot mirrors alerts, incidents and executions into."""

    app_token: str = Field(pattern=r"^[A-Za-z0-9]{6,64}$")
    tables: BitableTables

    @model_validator(mode="after")
    def _some_table(self) -> BitableExport:
        if not any((self.tables.alerts, self.tables.incidents, self.tables.executions)):
            raise ValueError("name at least one of tables.alerts, tables.incidents, tables.executions")
        return self


class Exports(Strict):
    bitable: BitableExport | None = None


class Inventory(Strict):
    users: list[UserEntry] = []
    default_role: Role = Role.USER
    hosts: dict[Name, Host] = {}
    services: dict[Name, Service] = {}
    deploy: dict[Name, DeployApp] = {}
    runbooks: dict[Name, Runbook] = {}
    alerting: Alerting = Alerting()
    oncall: dict[Name, Schedule] = {}
    reports: Reports = Reports()
    models: dict[ModelName, ModelEntry] = {}
    gateway: Gateway = Gateway()
    feishu: Feishu = Feishu()
    exports: Exports = Exports()


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
    for mname, entry in inv.models.items():
        for i, fallback in enumerate(entry.fallbacks):
            if fallback == mname:
                problems.append((f"models.{mname}.fallbacks.{i}", "a model cannot fall back to itself"))
            else:
                need("model", inv.models, fallback, f"models.{mname}.fallbacks.{i}")
    return problems
