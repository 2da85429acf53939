"""Commands as argv lists: templates are split once, user values only ever fill whole placeholders.

A template such as ``/opt/deploy/shop-api.sh {version}`` is split with shlex
(no shell features: a ``|`` in a template is a literal argument). Each ``{name}``
is replaced by the validated value inside its own argv element, so a value can
never become two arguments or an operator. For SSH the argv is joined with
shlex.quote per element; the only operators in a remote command line are the
fixed ``|`` and ``&&`` that the engine itself puts between stages.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from app.errors import BotError

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TemplateError(BotError):
    """An inventory command template cannot be turned into argv (bad quoting, unknown placeholder)."""


@dataclass(frozen=True)
class Command:
    """One or more argv stages joined by a fixed operator: a pipeline (|) or a sequence (&&)."""

    stages: tuple[tuple[str, ...], ...]
    op: Literal["|", "&&"] = "|"

    @classmethod
    def of(cls, *argv: str) -> Command:
        return cls((tuple(argv),))

    def shell_line(self) -> str:
        """The command line for a remote shell: every element quoted, stages joined by op."""
        return f" {self.op} ".join(shlex.join(stage) for stage in self.stages)

    def to_json(self) -> dict[str, object]:
        return {"stages": [list(stage) for stage in self.stages], "op": self.op}


def placeholders(template: str) -> set[str]:
    """Names of the {placeholders} used in template."""
    return set(PLACEHOLDER.findall(template))


def split_template(template: str) -> list[str]:
    """shlex.split the template once; TemplateError if it cannot be read."""
    try:
        words = shlex.split(template, posix=True)
    except ValueError as exc:
        raise TemplateError(f"cannot split command template {template!r}: {exc}") from None
    if not words:
        raise TemplateError("empty command template")
    return words


def render(template: str, values: Mapping[str, str | None]) -> tuple[str, ...]:
    """argv from template with each {name} replaced by values[name] inside its own element.

    A word that is only a placeholder whose value is None is dropped (an optional argument
    not given); a placeholder inside a longer word must have a value.
    """
    argv: list[str] = []
    for word in split_template(template):
        names = PLACEHOLDER.findall(word)
        if not names:
            argv.append(word)
            continue
        for name in names:
            if name not in values:
                raise TemplateError(f"command template {template!r} uses unknown placeholder {{{name}}}")
        if PLACEHOLDER.fullmatch(word) and values[names[0]] is None:
            continue
        missing = [name for name in names if values[name] is None]
        if missing:
            raise TemplateError(f"command template {template!r} needs a value for {{{missing[0]}}}")
        argv.append(PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), word))
    return tuple(argv)
