"""Read and validate the inventory YAML; every problem names the file, the key and the reason."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.errors import ConfigError
from app.inventory.schema import Inventory, reference_problems


def _key(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if error["type"] != "missing" and isinstance(value, (str, int, float, bool)):
        message += f" (got {value!r})"
    return message


def parse_inventory(text: str, source: str) -> Inventory:
    """Parse YAML text into an Inventory; ConfigError lists each problem as 'source: key: reason'."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(parse)"
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: {where}: invalid YAML: {reason}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): expected a mapping, got {type(data).__name__}")
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {_key(e['loc'])}: {_describe(e)}" for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
    problems = reference_problems(inventory)
    if problems:
        raise ConfigError("\n".join(f"{source}: {key}: {reason}" for key, reason in problems))
    return inventory


def load_inventory(path: str | Path) -> Inventory:
    """Load the inventory file at path; ConfigError when it is missing or invalid."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: (file): not found; set OPENCLAW_CONFIG or copy config/openclaw.example.yaml") from None
    except OSError as exc:
        raise ConfigError(f"{file}: (file): cannot read: {exc.strerror}") from None
    return parse_inventory(text, str(file))
