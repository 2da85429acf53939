"""Argument schemas for chat commands: declared once, checked before a handler runs."""
from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.errors import UsageError


@dataclass(frozen=True)
class Param:
    """One positional argument or --option: its name, type and what it must look like."""

    name: str
    required: bool = True
    convert: Callable[[str], Any] = str
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    default: Any = None
    rest: bool = False  # takes the remaining words as free text (only where a command declares it)
    # With rest: the text after the command name exactly as sent (line breaks, quotes), not re-joined words.
    verbatim: bool = False

    def parse(self, raw: str) -> Any:
        if self.choices and raw not in self.choices:
            raise UsageError(f"{self.name} must be one of: {', '.join(self.choices)}")
        if self.pattern and not re.fullmatch(self.pattern, raw):
            raise UsageError(f"{self.name}: {raw!r} is not allowed here")
        try:
            return self.convert(raw)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{self.name}: {exc}") from None


def positive_int(text: str) -> int:
    """An integer > 0 (counts, limits)."""
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


@dataclass(frozen=True)
class Args:
    """Parsed arguments by name; handlers read them, never the raw text."""

    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value


_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")


def _escape_apostrophes(text: str) -> str:
    """Escape apostrophes inside words ("can't") outside double quotes, so they are not read as quotes."""
    parts = text.split('"')
    parts[::2] = [_APOSTROPHE.sub("\\\\'", part) for part in parts[::2]]
    return '"'.join(parts)


def tokenize(text: str) -> list[str]:
    """Split like a shell would (quotes group words) but never interpret anything."""
    try:
        return shlex.split(_escape_apostrophes(text), posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot read the arguments: {exc}") from None


def parse_args(words: list[str], params: tuple[Param, ...], options: tuple[Param, ...]) -> Args:
    """Match words against the declared params and --options; UsageError on anything else."""
    by_flag = {f"--{opt.name}": opt for opt in options}
    values: dict[str, Any] = {opt.name: opt.default for opt in options}
    positional: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        # Once a rest param is reached its words are free text, except --options of a command that
        # declares some, given before the free text starts (`/incident open --sev sev2 Title words`).
        at_rest = bool(params and params[-1].rest and len(positional) >= len(params) - 1)
        options_before_text = bool(by_flag) and len(positional) < len(params)
        if word.startswith("--") and (not at_rest or options_before_text):
            flag, _, inline = word.partition("=")
            opt = by_flag.get(flag)
            if opt is None:
                raise UsageError(f"unknown option {flag}")
            if inline:
                raw = inline
            elif i + 1 < len(words):
                i += 1
                raw = words[i]
            else:
                raise UsageError(f"{flag} needs a value")
            values[opt.name] = opt.parse(raw)
        else:
            positional.append(word)
        i += 1
    for index, param in enumerate(params):
        if param.rest:
            rest = positional[index:]
            positional = positional[:index]
            if not rest and param.required:
                raise UsageError(f"missing {param.name}")
            values[param.name] = param.parse(" ".join(rest)) if rest else param.default
            break
        if index < len(positional):
            values[param.name] = param.parse(positional[index])
        elif param.required:
            raise UsageError(f"missing {param.name}")
        else:
            values[param.name] = param.default
    if not (params and params[-1].rest) and len(positional) > len(params):
        raise UsageError(f"unexpected argument {positional[len(params)]!r}")
    return Args(values)
