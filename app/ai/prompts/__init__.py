"""Prompt templates (Jinja2, no autoescape: the model reads plain text)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=False,  # noqa: S701 - not HTML
                       undefined=StrictUndefined, keep_trailing_newline=False)


def render(template: str, **values: Any) -> str:
    """Render prompts/<template>.j2."""
    return _env().get_template(f"{template}.j2").render(**values).strip()
