"""Read-only tools the assistant's model may call, each one an existing slash command run through dispatch().

The allow-list below is the whole of what model output can trigger: a tool name not in it
is refused and audited, whatever the prompt or the retrieved text said. Anything that
changes state (restart, deploy, run, alert ack ...) is not here and never will be.
"""
from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.ai.client import ToolCall
from app.audit import service as audit
from app.chat.args import tokenize
from app.chat.registry import dispatch, find
from app.chat.types import CommandContext, Reply
from app.errors import UsageError
from app.feishu.markdown import unescape

logger = logging.getLogger(__name__)

MAX_RESULT = 3000
_SAFE = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


def _text(args: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = args.get(name)
    if value is None or value == "":
        if required:
            raise UsageError(f"{name} is required")
        return None
    value = str(value).strip()
    if not _SAFE.fullmatch(value) or value.startswith("-"):
        raise UsageError(f"{name}: not an acceptable value")
    return value


def _kb_search(args: dict[str, Any]) -> list[str]:
    return ["kb", "search", str(_text(args, "query"))]


def _status(args: dict[str, Any]) -> list[str]:
    target = _text(args, "target", required=False)
    return ["status", target] if target else ["status"]


def _logs(args: dict[str, Any]) -> list[str]:
    words = ["logs", str(_text(args, "service"))]
    lines = args.get("lines")
    if lines is not None:
        if not isinstance(lines, int) or not 1 <= lines <= 500:
            raise UsageError("lines: a number from 1 to 500")
        words.append(str(lines))
    for option in ("since", "grep"):
        value = _text(args, option, required=False)
        if value:
            words += [f"--{option}", value]
    return words


def _alert_list(args: dict[str, Any]) -> list[str]:
    return ["alert", "list"]


@dataclass(frozen=True)
class Tool:
    """A read-only tool: its model-facing name and schema, and the slash command it runs."""

    name: str
    command: str
    description: str
    properties: dict[str, Any]
    required: tuple[str, ...]
    words: Callable[[dict[str, Any]], list[str]]

    def schema(self) -> dict[str, Any]:
        """The function declaration both Ollama and OpenAI-compatible servers accept."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": {"type": "object", "properties": self.properties, "required": list(self.required)}}}


_STR = {"type": "string"}
READ_ONLY: dict[str, Tool] = {tool.name: tool for tool in (
    Tool("kb_search", "kb search", "Search the team knowledge base (Chinese or English).",
         {"query": {**_STR, "description": "search words"}}, ("query",), _kb_search),
    Tool("status", "status", "Health of hosts: up, load, CPU, memory, disk.",
         {"target": {**_STR, "description": "host, service or tag; empty for all"}}, (), _status),
    Tool("logs", "logs", "Recent log lines of a service (secrets redacted).",
         {"service": _STR, "lines": {"type": "integer"}, "since": {**_STR, "description": "e.g. 1h"}, "grep": _STR},
         ("service",), _logs),
    Tool("alert_list", "alert list", "Open alerts.", {}, (), _alert_list),
)}


def _registered(tool: Tool) -> Any:
    spec, _ = find(tool.command.split())
    return spec if spec is not None and spec.name == tool.command else None


def available(ctx: CommandContext) -> list[Tool]:
    """Read-only tools whose commands exist now and that the sender's role may run."""
    tools = []
    for tool in READ_ONLY.values():
        spec = _registered(tool)
        if spec is not None and ctx.role.at_least(spec.role):
            tools.append(tool)
    return tools


def _reply_text(reply: Reply) -> str:
    if reply.text is not None:
        text = reply.text
    else:
        elements = ((reply.card or {}).get("body") or {}).get("elements") or (reply.card or {}).get("elements") or []
        text = unescape("\n".join(str(e.get("content") or (e.get("text") or {}).get("content") or "")
                                   for e in elements))
    return text if len(text) <= MAX_RESULT else text[:MAX_RESULT] + "\n…(truncated)"


def run(ctx: CommandContext, call: ToolCall) -> str:
    """Run one tool call for ctx's sender: allow-listed, audited, dispatched like a typed command."""
    tool = READ_ONLY.get(call.name)
    details = {"tool": call.name, "arguments": call.arguments, "source": ctx.source, "event_id": ctx.event_id}
    if tool is None or _registered(tool) is None:
        audit.record(actor=ctx.open_id, action="assistant.tool_refused", target=call.name, chat_id=ctx.chat_id,
                     details={**details, "reason": "not an allowed read-only tool"})
        logger.warning("model asked for a tool that is not allowed", extra={"tool": call.name, "open_id": ctx.open_id})
        return f"Refused: {call.name} is not an available read-only tool. Nothing was run."
    try:
        words = tool.words(call.arguments)
    except UsageError as exc:
        audit.record(actor=ctx.open_id, action="assistant.tool_refused", target=call.name, chat_id=ctx.chat_id,
                     details={**details, "reason": exc.user_message})
        return f"Refused: bad arguments for {call.name}: {exc.user_message}"
    text = "/" + " ".join(shlex.quote(word) for word in words)
    spec, _ = find(tokenize(text[1:]))
    if spec is None or spec.name != tool.command:  # quoting must never turn into another command
        raise RuntimeError(f"tool {call.name} resolved to {spec.name if spec else None}")
    audit.record(actor=ctx.open_id, action="assistant.tool_call", target=tool.command, chat_id=ctx.chat_id,
                 details={**details, "command": text})
    return _reply_text(dispatch(ctx, text, counted=False))
