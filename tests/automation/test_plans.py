"""Plans: inventory validation and argv built from templates; user values never become operators."""
from __future__ import annotations

import shlex

import pytest

from app.automation import plans
from app.automation.argv import Command, TemplateError, render
from app.automation.models import ExecutionKind
from app.errors import UsageError
from app.inventory.schema import Inventory, Role
from tests.automation.conftest import inventory_for
from tests.automation.sshd import SSHServer

INJECTIONS = [
    "1.0;id", "1.0 && id", "1.0|id", "$(id)", "`id`", "1.0\nid", "'1.0'", '"1.0"', "--help", "-rf",
    "../../etc/passwd", "a b",
]


@pytest.fixture
def inv(tmp_path) -> Inventory:  # type: ignore[no-untyped-def]
    fake = SSHServer(tmp_path, 2222, "ops", tmp_path / "id", tmp_path / "hk", tmp_path / "kh", tmp_path / "r",
                     tmp_path / "j", tmp_path / "bin")
    return Inventory.model_validate(inventory_for(fake))


def test_template_placeholder_becomes_exactly_one_argv_element() -> None:
    assert render("deploy.sh {version} --fast", {"version": "1.2; rm -rf /"}) == ("deploy.sh", "1.2; rm -rf /", "--fast")


def test_placeholder_inside_a_word_stays_in_that_word() -> None:
    assert render("deploy --version={version}", {"version": "a b"}) == ("deploy", "--version=a b")


def test_optional_placeholder_word_is_dropped_when_not_given() -> None:
    assert render("deploy.sh {version}", {"version": None}) == ("deploy.sh",)


def test_unknown_placeholder_is_a_template_error() -> None:
    with pytest.raises(TemplateError):
        render("deploy.sh {nope}", {"version": "1"})


def test_shell_line_quotes_every_element() -> None:
    line = Command.of("deployer", "$(id)", "a;b", "`x`").shell_line()
    assert shlex.split(line) == ["deployer", "$(id)", "a;b", "`x`"]
    assert "'$(id)'" in line


def test_pipeline_operators_come_only_from_the_engine() -> None:
    command = Command((("journalctl", "-u", "x"), ("grep", "-F", "-e", "a | b")))
    assert command.shell_line() == "journalctl -u x | grep -F -e 'a | b'"


@pytest.mark.parametrize("value", INJECTIONS)
def test_version_injection_is_refused(inv: Inventory, value: str) -> None:
    with pytest.raises(UsageError):
        plans.plan_deploy(inv, "shop-api", "staging", value)


@pytest.mark.parametrize("value", INJECTIONS)
def test_runbook_argument_injection_is_refused(inv: Inventory, value: str) -> None:
    with pytest.raises(UsageError):
        plans.plan_run(inv, "echo-arg", {"target": value})


@pytest.mark.parametrize("value", INJECTIONS)
def test_names_that_are_not_in_the_inventory_are_refused(inv: Inventory, value: str) -> None:
    for build in (lambda: plans.plan_restart(inv, value), lambda: plans.plan_logs(inv, value),
                  lambda: plans.plan_deploy(inv, value, "prod"), lambda: plans.plan_deploy(inv, "shop-api", value),
                  lambda: plans.plan_run(inv, value, {}), lambda: plans.plan_restart(inv, "nginx", value),
                  lambda: plans.plan_logs(inv, "nginx", host=value), lambda: plans.plan_status(inv, value)):
        with pytest.raises(UsageError):
            build()


@pytest.mark.parametrize("text", ["a;b", "$(id)", "`id`", "x && y", "a|b", "'q'", '"q"', "-v", "--all", "../x"])
def test_grep_text_is_passed_literally_after_dash_e(inv: Inventory, text: str) -> None:
    plan = plans.plan_logs(inv, "nginx", 10, grep=text)
    stages = plan.steps[0].command.stages
    assert stages[1] == ("grep", "-F", "-e", text)
    assert shlex.split(plan.steps[0].command.shell_line()).count(text) == 1


def test_grep_with_a_newline_is_refused(inv: Inventory) -> None:
    with pytest.raises(UsageError):
        plans.plan_logs(inv, "nginx", grep="a\nb")


def test_log_lines_are_capped(inv: Inventory) -> None:
    plan = plans.plan_logs(inv, "nginx", 50000)
    assert plan.args["lines"] == plans.LOG_LINES_MAX
    assert "1000" in plan.steps[0].command.stages[0]


def test_since_is_turned_into_seconds_for_journalctl(inv: Inventory) -> None:
    plan = plans.plan_logs(inv, "nginx", 5, since="1h")
    assert "--since=-3600s" in plan.steps[0].command.stages[0]


def test_file_logs_are_tailed_after_double_dash(inv: Inventory) -> None:
    stage = plans.plan_logs(inv, "applog", 5).steps[0].command.stages[0]
    assert stage[:4] == ("tail", "-n", "5", "--")


def test_restart_then_checks_the_unit_on_one_host(inv: Inventory) -> None:
    plan = plans.plan_restart(inv, "nginx", "web-02")
    assert [(s.name, s.hosts, s.command.stages[0]) for s in plan.steps] == [
        ("restart", ("web-02",), ("systemctl", "restart", "nginx.service")),
        ("check", ("web-02",), ("systemctl", "is-active", "nginx.service")),
    ]


def test_deploy_to_an_approval_environment_needs_approval_and_a_lock(inv: Inventory) -> None:
    plan = plans.plan_deploy(inv, "shop-api", "prod", "1.2.3")
    assert plan.approval and plan.lock == "deploy:shop-api:prod" and plan.role is Role.OPERATOR
    assert plan.steps[0].command.stages[0] == ("deployer", "shop-api", "1.2.3")
    assert plan.hosts == ("web-01", "web-02")


def test_same_request_gives_the_same_digest(inv: Inventory) -> None:
    one = plans.build(ExecutionKind.DEPLOY, {"app": "shop-api", "env": "prod", "version": "1"}, inv)
    two = plans.build(ExecutionKind.DEPLOY, {"app": "shop-api", "env": "prod", "version": "1"}, inv)
    other = plans.build(ExecutionKind.DEPLOY, {"app": "shop-api", "env": "prod", "version": "2"}, inv)
    assert one.digest() == two.digest() != other.digest()


def test_unknown_runbook_argument_is_refused(inv: Inventory) -> None:
    with pytest.raises(UsageError, match="no argument"):
        plans.plan_run(inv, "echo-arg", {"target": "x", "extra": "y"})


def test_runbook_pattern_is_enforced(inv: Inventory) -> None:
    with pytest.raises(UsageError):
        plans.plan_run(inv, "sleeper", {"seconds": "1m"})
    assert plans.plan_run(inv, "sleeper", {"seconds": "5"}).steps[0].command.stages[0] == ("sleep", "5")


def test_status_of_a_service_adds_its_unit_check(inv: Inventory) -> None:
    plan = plans.plan_status(inv, "nginx")
    assert [step.name for step in plan.steps] == ["probe", "unit"]


def test_status_of_a_tag_selects_tagged_hosts(inv: Inventory) -> None:
    assert plans.plan_status(inv, "prod").hosts == ("web-01",)
    assert plans.plan_status(inv, "web").hosts == ("web-01", "web-02")


def test_status_with_prometheus_asks_it_for_hosts_it_can_name(inv: Inventory) -> None:
    from app.automation.health import PROBE
    from app.automation.sources import Query, Sources

    plan = plans.plan_status(inv, None, Sources(prometheus=True))
    metrics, probe = plan.steps
    assert (metrics.name, metrics.hosts, metrics.command) == ("metrics", ("web-01", "web-02"),
                                                              Query.of("prometheus", "health"))
    assert (metrics.fallback, metrics.fallback_name) == (PROBE, "probe")
    assert (probe.name, probe.hosts, probe.command) == ("probe", ("local",), PROBE)  # no address: probed
    assert plan.digest() != plans.plan_status(inv, None).digest()
    assert plan.describe()[0] == "metrics on web-01, web-02: prometheus health"
    unit = plans.plan_status(inv, "nginx", Sources(prometheus=True)).steps[1]
    assert unit.command == Query.of("prometheus", "unit", unit="nginx.service")
    assert unit.fallback == Command.of("systemctl", "is-active", "nginx.service")


def test_logs_with_elasticsearch_is_one_search_with_checked_values(inv: Inventory) -> None:
    from app.automation.sources import Query, Sources

    plan = plans.plan_logs(inv, "nginx", 20, host="web-02", since="1h", grep='a "b" *', sources=Sources(elasticsearch=True))
    [step] = plan.steps
    assert step.command == Query.of("elasticsearch", "logs", index="logs-*", service_field="service.name",
                                    service="nginx", host="web-02", since_seconds=3600, grep='a "b" *', lines=20)
    with pytest.raises(UsageError):
        plans.plan_logs(inv, "nginx", host="db-01", sources=Sources(elasticsearch=True))
    with pytest.raises(UsageError):
        plans.plan_logs(inv, "nginx", grep="a\nb", sources=Sources(elasticsearch=True))
