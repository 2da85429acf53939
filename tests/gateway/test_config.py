"""The inventory's models: and gateway: sections are validated strictly; upstream keys come from the environment."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from app.errors import ConfigError
from app.inventory.loader import load_inventory, parse_inventory
from tests.fakes.llm_server import FakeLLMServer
from tests.gateway.conftest import Gateway, models_inventory
from tests.gateway.test_openai import ASK, _post

ROOT = Path(__file__).resolve().parents[2]


def _problems(section: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_inventory(yaml.safe_dump(section), "inv.yaml")
    return str(caught.value)


def test_bad_models_are_named_by_key() -> None:
    assert "inv.yaml: models.qwen3.bogus: unknown key" in _problems(
        {"models": {"qwen3": {"provider": "ollama", "base_url": "http://x:1", "bogus": 1}}})
    assert "models.qwen3.provider" in _problems({"models": {"qwen3": {"provider": "grpc", "base_url": "http://x:1"}}})
    assert "models.qwen3.think" in _problems(
        {"models": {"qwen3": {"provider": "ollama", "base_url": "http://x:1", "think": "maybe"}}})
    assert "inv.yaml: models.qwen3.fallbacks.0: unknown model 'nope'" in _problems(
        {"models": {"qwen3": {"provider": "ollama", "base_url": "http://x:1", "fallbacks": ["nope"]}}})
    assert "models.qwen3.read_timeout" in _problems(
        {"models": {"qwen3": {"provider": "ollama", "base_url": "http://x:1", "read_timeout": "soon"}}})
    assert "models.qwen3.api_key_env" in _problems(
        {"models": {"qwen3": {"provider": "openai", "base_url": "http://x:1", "api_key_env": "PATH"}}})


def test_bad_gateway_limits_are_named_by_key() -> None:
    assert "gateway.limits.concurrency" in _problems({"gateway": {"limits": {"concurrency": -1}}})
    assert "gateway.roles.boss" in _problems({"gateway": {"roles": {"boss": {"concurrency": 1}}}})
    assert "gateway.users.dev.rpm: unknown key" in _problems({"gateway": {"users": {"dev": {"rpm": 1}}}})


def test_the_example_inventory_is_valid() -> None:
    inventory = load_inventory(ROOT / "config/openclaw.example.yaml")
    assert inventory.gateway.limits.requests_per_minute == 100 and inventory.models == {}


def test_missing_upstream_key_stops_the_start(serve: Callable[..., Gateway], tmp_path: Path) -> None:
    models = {"ds": {"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "DASHSCOPE_API_KEY"}}
    with pytest.raises(ConfigError, match=r"models\.ds\.api_key_env: environment variable DASHSCOPE_API_KEY is not set"):
        serve(OPENCLAW_CONFIG=models_inventory(tmp_path, models))


def test_upstream_key_is_sent_to_the_upstream_only(serve: Callable[..., Gateway], llm_server: FakeLLMServer,
                                                   tmp_path: Path) -> None:
    models = {"qwen3": {"provider": "openai", "base_url": f"{llm_server.url}/v1", "api_key_env": "DASHSCOPE_API_KEY"}}
    gw = serve(OPENCLAW_CONFIG=models_inventory(tmp_path, models), DASHSCOPE_API_KEY="sk-upstream")
    assert _post(gw, gw.token(), ASK).status_code == 200
    assert llm_server.requests[-1].headers["authorization"] == "Bearer sk-upstream"
    assert llm_server.requests[-1].path == "/v1/chat/completions"  # a base URL ending in /v1 is not doubled
    assert requests.get(f"{gw.url}/v1/models", timeout=5).status_code == 401


def test_tokens_cli_creates_and_lists_limits(make_app: Callable[..., Any]) -> None:
    from app.inventory.schema import Role
    from tests.web.admin.helpers import make_account

    app = make_app()
    with app.app_context():
        make_account("dev", Role.USER)
    runner = app.test_cli_runner()
    created = runner.invoke(args=["tokens", "create", "dev", "--label", "ci", "--rate", "10", "--concurrency", "2"])
    assert created.exit_code == 0 and created.stdout.startswith("oct_")
    listed = runner.invoke(args=["tokens", "list", "dev"])
    assert "\tci\t" in listed.stdout and "limits: rate 10, concurrency 2" in listed.stdout
    refused = runner.invoke(args=["tokens", "create", "dev", "--rate", "-1"])
    assert refused.exit_code == 2 and "-1" in refused.output
