"""The inventory file: the example loads; every problem is reported as file, dotted key and reason."""
from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from app import create_app
from app.errors import ConfigError
from app.inventory.loader import load_inventory
from app.inventory.schema import Role
from tests.conftest import ROOT

EXAMPLE = ROOT / "config" / "openclaw.example.yaml"


@pytest.fixture
def example() -> dict[str, Any]:
    """The shipped example as a plain dict, to break one thing at a time."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return copy.deepcopy(data)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[Any], Path]:
    def write_file(content: Any, name: str = "openclaw.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return path

    return write_file


def problem(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_the_shipped_example_loads_with_the_contracts_shape() -> None:
    inventory = load_inventory(EXAMPLE)
    roles = {u.open_id: u.role for u in inventory.users}
    assert roles == {"ou_alice": Role.ADMIN, "ou_bob": Role.OPERATOR}
    assert inventory.default_role == Role.USER
    assert inventory.hosts["web-01"].address == "10.0.0.11"
    assert inventory.hosts["local"].transport == "local"
    assert inventory.services["nginx"].unit == "nginx.service"
    assert inventory.deploy["shop-api"].environments["prod"].approval is True
    assert inventory.runbooks["clean-tmp"].role == Role.OPERATOR
    assert inventory.alerting.dedup_window == 300
    assert inventory.oncall["platform"].escalate_after == 600
    assert inventory.oncall["platform"].members == ["ou_bob", "ou_alice"]


def test_the_test_suites_inventory_loads() -> None:
    load_inventory(ROOT / "tests" / "data" / "inventory.yaml")


def test_an_empty_file_is_an_empty_inventory(write: Callable[[Any], Path]) -> None:
    inventory = load_inventory(write(""))
    assert inventory.users == [] and inventory.default_role == Role.USER


def test_an_unknown_top_level_key_is_named(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["hostz"] = {}
    message = problem(write(example))
    assert "hostz: unknown key" in message


def test_an_unknown_nested_key_is_named_with_its_dotted_path(
    write: Callable[[Any], Path], example: dict[str, Any],
) -> None:
    example["hosts"]["web-01"]["adress"] = "10.0.0.12"
    message = problem(write(example))
    assert "hosts.web-01.adress: unknown key" in message


def test_a_wrong_type_names_the_key_the_reason_and_the_value(
    write: Callable[[Any], Path], example: dict[str, Any],
) -> None:
    example["hosts"]["web-01"]["port"] = "twenty-two"
    message = problem(write(example))
    assert "hosts.web-01.port:" in message
    assert "integer" in message
    assert "'twenty-two'" in message


def test_a_port_out_of_range_is_refused(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["hosts"]["web-01"]["port"] = 70000
    assert "hosts.web-01.port:" in problem(write(example))


def test_a_list_where_a_mapping_belongs_is_refused(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["services"] = ["nginx"]
    assert "services:" in problem(write(example))


def test_a_bad_role_names_the_user_entry_and_the_allowed_roles(
    write: Callable[[Any], Path], example: dict[str, Any],
) -> None:
    example["users"][1]["role"] = "superuser"
    message = problem(write(example))
    assert "users.1.role:" in message
    assert "'superuser'" in message
    for role in ("user", "auditor", "operator", "admin"):
        assert role in message


def test_a_bad_default_role_is_refused(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["default_role"] = "root"
    assert "default_role:" in problem(write(example))


def test_a_bad_duration_is_refused(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["alerting"]["dedup_window"] = "five minutes"
    message = problem(write(example))
    assert "alerting.dedup_window:" in message
    assert "duration" in message


def test_an_ssh_host_without_an_address_is_refused(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["hosts"]["web-02"] = {"user": "ops"}
    message = problem(write(example))
    assert "hosts.web-02" in message
    assert "address" in message


def test_an_unknown_host_in_a_service_is_named(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["services"]["nginx"]["hosts"] = ["web-01", "web-09"]
    message = problem(write(example))
    assert "services.nginx.hosts.1: unknown host 'web-09'" in message


def test_an_unknown_host_in_a_deploy_environment_is_named(
    write: Callable[[Any], Path], example: dict[str, Any],
) -> None:
    example["deploy"]["shop-api"]["environments"]["prod"]["hosts"] = ["db-01"]
    message = problem(write(example))
    assert "deploy.shop-api.environments.prod.hosts.0: unknown host 'db-01'" in message


def test_an_unknown_user_as_service_owner_is_named(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["services"]["nginx"]["owners"] = ["ou_nobody"]
    message = problem(write(example))
    assert "services.nginx.owners.0: unknown user 'ou_nobody'" in message


def test_an_unknown_user_in_an_oncall_rotation_is_named(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["oncall"]["platform"]["members"].append("ou_ghost")
    message = problem(write(example))
    assert "oncall.platform.members.2: unknown user 'ou_ghost'" in message


def test_an_unknown_runbook_in_a_remediation_rule_is_named(
    write: Callable[[Any], Path], example: dict[str, Any],
) -> None:
    example["alerting"]["remediation"][0]["runbook"] = "reboot-everything"
    message = problem(write(example))
    assert "alerting.remediation.0.runbook: unknown runbook 'reboot-everything'" in message


def test_an_unknown_host_in_a_remediation_rule_is_named(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["alerting"]["remediation"][0]["hosts"] = ["web-99"]
    message = problem(write(example))
    assert "alerting.remediation.0.hosts.0: unknown host 'web-99'" in message


def test_an_unknown_oncall_schedule_in_a_service_is_named(
    write: Callable[[Any], Path], example: dict[str, Any],
) -> None:
    example["services"]["nginx"]["oncall"] = "database"
    message = problem(write(example))
    assert "services.nginx.oncall: unknown oncall schedule 'database'" in message


def test_a_duplicate_open_id_is_named(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["users"].append({"open_id": "ou_bob", "name": "Bob again", "role": "admin"})
    message = problem(write(example))
    assert "users.2.open_id: duplicate open_id 'ou_bob'" in message


def test_an_open_id_that_is_not_one_is_refused(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["users"][0]["open_id"] = "alice@example.com"
    assert "users.0.open_id:" in problem(write(example))


def test_every_problem_is_reported_at_once(write: Callable[[Any], Path], example: dict[str, Any]) -> None:
    example["services"]["nginx"]["hosts"] = ["web-09"]
    example["services"]["nginx"]["owners"] = ["ou_nobody"]
    message = problem(write(example))
    assert "services.nginx.hosts.0" in message
    assert "services.nginx.owners.0" in message
    assert len(message.splitlines()) == 2


def test_invalid_yaml_is_reported_with_its_line_number(write: Callable[[Any], Path]) -> None:
    path = write("users: []\ndefault_role: user\nhosts:\n  web-01: address: 10.0.0.1\nservices: {}\n")
    message = problem(path)
    assert "invalid YAML" in message
    assert "line 4, column 18" in message
    assert "mapping values are not allowed" in message


def test_a_tab_indented_file_is_reported_with_its_line_number(write: Callable[[Any], Path]) -> None:
    message = problem(write("users: []\nhosts:\n\tweb-01: {address: 10.0.0.1}\n"))
    assert "line 3" in message


def test_a_file_that_is_not_a_mapping_is_refused(write: Callable[[Any], Path]) -> None:
    message = problem(write("- just\n- a list\n"))
    assert "(top level)" in message
    assert "mapping" in message


def test_a_missing_file_is_reported_with_its_path(tmp_path: Path) -> None:
    message = problem(tmp_path / "nope.yaml")
    assert "not found" in message
    assert "OPENCLAW_CONFIG" in message


def test_create_app_with_a_broken_inventory_raises_config_error_naming_the_file(
    write: Callable[[Any], Path], example: dict[str, Any], tmp_path: Path,
) -> None:
    example["services"]["nginx"]["hosts"] = ["web-09"]
    path = write(example)
    environ = {"DATABASE_URL": f"sqlite:///{tmp_path}/openclaw.db", "OPENCLAW_CONFIG": str(path)}
    with pytest.raises(ConfigError) as caught:
        create_app(environ)
    assert str(path) in str(caught.value)
    assert "services.nginx.hosts.0" in str(caught.value)


def test_create_app_with_a_missing_inventory_raises_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match="missing.yaml"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/openclaw.db", "OPENCLAW_CONFIG": str(path)})
