"""The models the gateway serves: the inventory's `models:`, or LLM_MODEL on the LLM_* server when there are none."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from app.errors import ConfigError
from app.inventory.schema import Inventory, ModelEntry

EXTENSION = "openclaw.gateway.catalog"


@dataclass(frozen=True)
class Route:
    """One public model name and the upstream that answers it."""

    name: str
    provider: str  # ollama | openai
    base_url: str
    model: str  # the upstream's own name for it
    api_key: str | None = None
    timeout: tuple[float, float] = (3.0, 120.0)
    defaults: dict[str, Any] = field(default_factory=dict)
    think: str = "strip"  # strip | pass
    fallbacks: tuple[str, ...] = ()
    max_concurrency: int = 16
    max_queue: int = 64
    queue_timeout: float = 10.0

    def url(self, protocol: str) -> str:
        """The upstream endpoint for a request in protocol (openai or ollama)."""
        base = self.base_url.rstrip("/")
        if protocol == "ollama" and self.provider == "ollama":
            return f"{base}/api/chat"
        if base.endswith("/v1"):
            return f"{base}/chat/completions"
        return f"{base}/v1/chat/completions"  # Ollama serves the OpenAI protocol under /v1 too


def _from_entry(name: str, entry: ModelEntry, keys: dict[str, str], source: str) -> Route:
    api_key = None
    if entry.api_key_env:
        api_key = keys.get(entry.api_key_env)
        if not api_key:
            raise ConfigError(f"{source}: models.{name}.api_key_env: environment variable {entry.api_key_env} is not set")
    defaults = {k: v for k, v in entry.defaults.model_dump().items() if v is not None}
    return Route(name=name, provider=entry.provider, base_url=entry.base_url, model=entry.model or name,
                 api_key=api_key, timeout=(float(entry.connect_timeout), float(entry.read_timeout)),
                 defaults=defaults, think=entry.think, fallbacks=tuple(entry.fallbacks),
                 max_concurrency=entry.max_concurrency, max_queue=entry.max_queue,
                 queue_timeout=float(entry.queue_timeout))


def build(config: dict[str, Any], inventory: Inventory) -> dict[str, Route]:
    """Routes by public name; ConfigError (file, key, reason) for a missing upstream key."""
    source = str(config.get("OPENCLAW_CONFIG") or "inventory")
    if inventory.models:
        keys = config.get("MODEL_API_KEYS") or {}
        return {name: _from_entry(name, entry, keys, source) for name, entry in inventory.models.items()}
    name = config.get("LLM_MODEL") or "qwen3:32b"
    return {name: Route(name=name, provider=config["LLM_PROVIDER"], base_url=config.get("LLM_BASE_URL") or "http://127.0.0.1:11434",
                        model=name, api_key=config.get("LLM_API_KEY"),
                        timeout=(float(config["LLM_CONNECT_TIMEOUT"]), float(config["LLM_READ_TIMEOUT"])))}


def init_app(app: Flask, inventory: Inventory) -> None:
    """Resolve the routes once at start (a bad `models:` stops the process like any inventory error)."""
    app.extensions[EXTENSION] = build(app.config, inventory)


def routes() -> dict[str, Route]:
    """The current app's routes by public name."""
    found: dict[str, Route] | None = current_app.extensions.get(EXTENSION)
    if found is None:  # deferred with the inventory (flask CLI commands)
        from app.inventory import get_inventory

        found = current_app.extensions[EXTENSION] = build(current_app.config, get_inventory())
    return found


def bot_route(model: str) -> Route | None:
    """The route the assistant's model shares caps with (the public name equal to LLM_MODEL), if any."""
    return routes().get(model)
