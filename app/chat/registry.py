"""@command and @card_action declare handlers; dispatch() does the shared work once.

Shared work: count the sender against the per-user command limit (command_limits),
match the longest command name, check the role (refusing with the role's name), validate arguments against the declared schema (usage on error),
write the audit record before running, and turn BotError into a reply.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from app.audit import service as audit
from app.chat import command_limits, receipts
from app.chat.args import Args, Param, parse_args, tokenize
from app.chat.types import CardAction, CardResponse, CommandContext, Reply, Role
from app.errors import AuditWriteFailed, BotError, UsageError

logger = logging.getLogger(__name__)

Handler = Callable[[CommandContext, Args], Reply]
CardHandler = Callable[[CommandContext, CardAction], CardResponse]


@dataclass(frozen=True)
class CommandSpec:
    """A command as declared: name (may be two words), handler, role, usage and argument schema."""

    name: str
    handler: Handler
    usage: str
    role: Role = Role.USER
    params: tuple[Param, ...] = ()
    options: tuple[Param, ...] = ()
    background: bool = False
    summary: str = field(default="")
    read_only: bool = False  # changes nothing: the admin console may preview it as someone else
    mutating: bool = False  # changes something: runs at most once per message (a command receipt)


@dataclass(frozen=True)
class CardActionSpec:
    """A card button handler, keyed by the `action` value the button sends back."""

    action: str
    handler: CardHandler
    role: Role = Role.USER


_commands: dict[str, CommandSpec] = {}
_card_actions: dict[str, CardActionSpec] = {}


def command(
    name: str, *, usage: str, role: Role = Role.USER, params: tuple[Param, ...] = (),
    options: tuple[Param, ...] = (), background: bool = False, read_only: bool = False, mutating: bool = False,
) -> Callable[[Handler], Handler]:
    """Declare a chat command; the handler's docstring is its /help line.

    read_only: it changes nothing, so the admin console may preview it as someone else.
    mutating: it changes something, so it takes a receipt keyed by the message id before
    it runs, and one message runs it at most once however often it is delivered or queued.
    """

    def register(handler: Handler) -> Handler:
        if name in _commands:
            raise RuntimeError(f"duplicate chat command {name!r}")
        summary = (handler.__doc__ or "").strip().splitlines()[0] if handler.__doc__ else ""
        _commands[name] = CommandSpec(name, handler, usage, role, params, options, background, summary, read_only,
                                      mutating)
        return handler

    return register


def card_action(action: str, *, role: Role = Role.USER) -> Callable[[CardHandler], CardHandler]:
    """Declare the handler for card buttons whose value has {"action": action}."""

    def register(handler: CardHandler) -> CardHandler:
        if action in _card_actions:
            raise RuntimeError(f"duplicate card action {action!r}")
        _card_actions[action] = CardActionSpec(action, handler, role)
        return handler

    return register


def load_commands() -> None:
    """Import every module in app.chat.commands so their decorators register."""
    import app.chat.commands as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")


def commands() -> list[CommandSpec]:
    """All declared commands, sorted by name."""
    return sorted(_commands.values(), key=lambda spec: spec.name)


def find(words: list[str]) -> tuple[CommandSpec | None, list[str]]:
    """The longest declared name matching the first words, and the words after it."""
    for length in (2, 1):
        if len(words) >= length:
            spec = _commands.get(" ".join(words[:length]).lower())
            if spec:
                return spec, words[length:]
    return None, words


def is_read_only(text: str) -> bool:
    """True when the slash command in text is declared read_only (unknown or unparsable text is not)."""
    try:
        words = tokenize(text.lstrip()[1:])
    except UsageError:
        return False
    spec, _ = find(words)
    return spec is not None and spec.read_only


def subcommands(name: str, role: Role | None = None) -> list[CommandSpec]:
    """The two-word commands under name (`incident open`, ...) in declared order; only role's when given."""
    prefix = name + " "
    return [spec for spec in _commands.values()
            if spec.name.startswith(prefix) and (role is None or role.at_least(spec.role))]


def group_usage(name: str, role: Role) -> str:
    """`/incident list|show ...`: a group's sub-commands that role may run (empty when none)."""
    names = [spec.name.split(" ", 1)[1] for spec in subcommands(name, role)]
    return f"/{name} {'|'.join(names)} ..." if names else ""


def usage_of(spec: CommandSpec) -> str:
    return f"Usage: {spec.usage}"


def _verbatim(spec: CommandSpec) -> bool:
    return bool(spec.params) and spec.params[-1].verbatim and len(spec.params) == 1 and not spec.options


def _verbatim_args(spec: CommandSpec, raw: str) -> Args:
    """The one verbatim param: everything after the command's name, as sent."""
    name = r"\s+".join(re.escape(word) for word in spec.name.split())
    found = re.match(rf"\s*{name}(?=\s|$)", raw, re.IGNORECASE)
    text = raw[found.end():].strip() if found else ""
    param = spec.params[0]
    if not text:
        if param.required:
            raise UsageError(f"missing {param.name}")
        return Args({param.name: param.default})
    return Args({param.name: param.parse(text)})


def dispatch(ctx: CommandContext, text: str, *, counted: bool = True) -> Reply:
    """Run the slash command in text for ctx, with limit, role, schema and audit checks.

    counted=False for commands the assistant runs as tools: the question that caused
    them was already counted against the assistant's own limit.
    """
    if counted and (over := command_limits.check(ctx)):
        _refuse_over_limit(ctx, "command.limited", (text.split(maxsplit=1) or [""])[0][:64], over)
        return Reply.of_text(command_limits.refusal_text(over))
    raw = text.lstrip()[1:]
    try:
        words = tokenize(raw)
    except UsageError as exc:
        spec, _ = find(raw.split())  # free text such as an article body may hold a lone quote
        if spec is None or not _verbatim(spec):
            return Reply.of_text(f"{exc.user_message}")
        words = raw.split()
    spec, rest = find(words)
    if spec is None:
        name = words[0] if words else ""
        return Reply.of_text(f"Unknown command /{name}. Type /help to see what you can run.")
    if not ctx.role.at_least(spec.role):
        try:
            _audit(ctx, "command.denied", spec.name, {"needed": spec.role.value, "role": ctx.role.value})
        except AuditWriteFailed:
            pass  # nothing runs either way; the person still hears why
        return Reply.of_text(
            f"Refused: /{spec.name} needs the {spec.role.value} role; you have {ctx.role.value}."
        )
    try:
        args = _verbatim_args(spec, raw) if _verbatim(spec) else parse_args(rest, spec.params, spec.options)
    except UsageError as exc:
        return Reply.of_text(f"{exc.user_message}\n{usage_of(spec)}")
    if spec.mutating and ctx.message_id and not receipts.take(ctx.message_id, spec.name, ctx.open_id):
        return Reply.of_text(receipts.already_handled(ctx.message_id, spec.name))
    try:
        _audit(ctx, "command.run", spec.name, {"args": args.values})
    except AuditWriteFailed as exc:
        return Reply.of_text(exc.user_message)
    try:
        return spec.handler(ctx, args)
    except UsageError as exc:
        return Reply.of_text(f"{exc.user_message}\n{usage_of(spec)}")
    except BotError as exc:
        return Reply.of_text(exc.user_message)


def dispatch_card(ctx: CommandContext, action: CardAction) -> CardResponse:
    """Run the card handler for action.value["action"] after the role check and audit."""
    name = str(action.value.get("action", ""))
    if over := command_limits.check(ctx):
        _refuse_over_limit(ctx, "card.limited", name[:64], over)
        return CardResponse(toast=command_limits.refusal_text(over), toast_type="warning")
    spec = _card_actions.get(name)
    if spec is None:
        return CardResponse(toast="This button is no longer supported.", toast_type="warning")
    if not ctx.role.at_least(spec.role):
        try:
            _audit(ctx, "card.denied", name, {"needed": spec.role.value, "value": action.value})
        except AuditWriteFailed:
            pass
        return CardResponse(toast=f"Refused: this needs the {spec.role.value} role.", toast_type="error")
    try:
        _audit(ctx, "card.action", name, {"value": action.value})
        return spec.handler(ctx, action)
    except BotError as exc:
        return CardResponse(toast=exc.user_message, toast_type="error")


def _refuse_over_limit(ctx: CommandContext, action: str, target: str, over: command_limits.Hit) -> None:
    """Log every refusal; audit only the first one in each minute, so a flood cannot flood the audit log."""
    logger.info("%s over the command limit (%s of %s this minute)", ctx.open_id, over.count, over.limit,
                extra={"open_id": ctx.open_id, "event_id": ctx.event_id, "target": target})
    if over.first_refusal:
        try:
            _audit(ctx, action, target, {"limit": over.limit, "role": ctx.role.value})
        except AuditWriteFailed:
            pass  # nothing runs either way


def _audit(ctx: CommandContext, action: str, target: str, details: dict[str, object]) -> None:
    audit.record(
        actor=ctx.open_id, action=action, target=target, chat_id=ctx.chat_id,
        details={**details, "source": ctx.source, "event_id": ctx.event_id},
    )
