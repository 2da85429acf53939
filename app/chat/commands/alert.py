"""/alert: list, acknowledge, resolve and silence alerts; the alert card's buttons."""
from __future__ import annotations

from app.alerts import notify
from app.alerts import service as alerts
from app.alerts.models import Alert
from app.alerts.routing import format_matchers, parse_matchers
from app.alerts.tasks import queue_notifications
from app.alerts.types import Severity
from app.chat.args import Args, Param, positive_int
from app.chat.registry import card_action, command, subcommands
from app.chat.types import CardAction, CardResponse, CommandContext, Reply, Role
from app.durations import format_duration, parse_duration
from app.errors import UsageError
from app.inventory import get_inventory

_ID = (Param("id", convert=positive_int),)


def _line(alert: Alert) -> str:
    owner = f" · acked by {alert.acked_by}" if alert.acked_by else ""
    return (f"#{alert.id} [{alert.severity}] {alert.title} · {alert.status} · ×{alert.count}"
            f" · since {alert.starts_at:%m-%d %H:%M}{owner}")


@command("alert", usage="/alert list|ack ID|resolve ID|silence MATCHERS DURATION|silences|unsilence ID",
         read_only=True)
def alert_help(ctx: CommandContext, args: Args) -> Reply:
    """Alert handling: the subcommands."""
    return Reply.of_text("Usage: " + " · ".join(spec.usage for spec in subcommands("alert", ctx.role)))


@command("alert list", usage="/alert list [critical|warning|info]", read_only=True,
         params=(Param("severity", required=False, choices=tuple(s.value for s in Severity)),))
def alert_list(ctx: CommandContext, args: Args) -> Reply:
    """Open alerts, newest first, optionally of one severity."""
    severity = Severity(args["severity"]) if args.get("severity") else None
    found = alerts.list_alerts(severity=severity)
    if not found:
        return Reply.of_text("No open alerts" + (f" of severity {severity}." if severity else "."))
    return Reply.of_text("\n".join(["Open alerts:", *(_line(a) for a in found)]))


@command("alert ack", mutating=True, usage="/alert ack ID", role=Role.OPERATOR, params=_ID)
def alert_ack(ctx: CommandContext, args: Args) -> Reply:
    """Acknowledge an alert: you own it, escalation stops."""
    result = alerts.acknowledge(alert_id=args["id"], actor=ctx.open_id, chat_id=ctx.chat_id)
    if not result.changed:
        return Reply.of_text(f"#{result.alert.id} is already {result.alert.status}.")
    queue_notifications([result.alert.id])
    return Reply.of_text(f"Acknowledged #{result.alert.id} {result.alert.title}")


@command("alert resolve", mutating=True, usage="/alert resolve ID", role=Role.OPERATOR, params=_ID)
def alert_resolve(ctx: CommandContext, args: Args) -> Reply:
    """Close an alert by hand."""
    result = alerts.resolve(alert_id=args["id"], actor=ctx.open_id, chat_id=ctx.chat_id)
    if not result.changed:
        return Reply.of_text(f"#{result.alert.id} is already resolved.")
    queue_notifications([result.alert.id])
    return Reply.of_text(f"Resolved #{result.alert.id} {result.alert.title}")


def _matchers(text: str) -> dict[str, str]:
    try:
        return parse_matchers(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _seconds(text: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@command("alert silence", mutating=True, usage="/alert silence MATCHERS DURATION  (e.g. alertname=DiskFull,host=web-01 2h)",
         role=Role.OPERATOR, params=(Param("matchers"), Param("duration")))
def alert_silence(ctx: CommandContext, args: Args) -> Reply:
    """Suppress notifications for matching alerts for a while."""
    matchers, seconds = _matchers(args["matchers"]), _seconds(args["duration"])
    silence = alerts.create_silence(matchers=matchers, seconds=seconds, actor=ctx.open_id, chat_id=ctx.chat_id)
    return Reply.of_text(f"Silenced {format_matchers(matchers)} for {format_duration(seconds)} (#{silence.id};"
                         f" /alert unsilence {silence.id} to end it).")


@command("alert silences", usage="/alert silences", role=Role.OPERATOR, read_only=True)
def alert_silences(ctx: CommandContext, args: Args) -> Reply:
    """Silences in force now."""
    active = alerts.active_silences()
    if not active:
        return Reply.of_text("No active silences.")
    return Reply.of_text("\n".join(["Active silences:", *(alerts.describe_silence(s) for s in active)]))


@command("alert unsilence", mutating=True, usage="/alert unsilence ID", role=Role.OPERATOR, params=_ID)
def alert_unsilence(ctx: CommandContext, args: Args) -> Reply:
    """End a silence now."""
    silence = alerts.remove_silence(silence_id=args["id"], actor=ctx.open_id, chat_id=ctx.chat_id)
    return Reply.of_text(f"Silence #{silence.id} ({format_matchers(silence.matchers)}) removed.")


# -- card buttons ------------------------------------------------------------------------------


def _alert_of(action: CardAction) -> Alert:
    try:
        alert_id = int(action.value.get("alert_id", 0))
    except (TypeError, ValueError):
        alert_id = 0
    return alerts.get_alert_or_raise(alert_id)


def _answer(alert: Alert, toast: str, toast_type: str, action: CardAction) -> CardResponse:
    """The toast plus the alert's card as it is now, which replaces the clicked card for everyone."""
    if action.message_id and action.message_id != alert.card_message_id:
        return CardResponse(toast=toast, toast_type=toast_type)
    card = notify.render(alert)
    notify.mark_fresh(alert)
    return CardResponse(toast=toast, toast_type=toast_type, card=card)


@card_action("alert.ack", role=Role.OPERATOR)
def card_ack(ctx: CommandContext, action: CardAction) -> CardResponse:
    """Acknowledge button."""
    result = alerts.acknowledge(alert_id=_alert_of(action).id, actor=ctx.open_id, chat_id=ctx.chat_id)
    if result.changed:
        return _answer(result.alert, "Acknowledged: escalation stopped.", "success", action)
    return _answer(result.alert, f"Already {result.alert.status}.", "info", action)


@card_action("alert.resolve", role=Role.OPERATOR)
def card_resolve(ctx: CommandContext, action: CardAction) -> CardResponse:
    """Resolve button."""
    result = alerts.resolve(alert_id=_alert_of(action).id, actor=ctx.open_id, chat_id=ctx.chat_id)
    if result.changed:
        return _answer(result.alert, "Resolved.", "success", action)
    return _answer(result.alert, "Already resolved.", "info", action)


@card_action("alert.silence", role=Role.OPERATOR)
def card_silence(ctx: CommandContext, action: CardAction) -> CardResponse:
    """Silence 1h button: silences this alertname on this host."""
    alert = _alert_of(action)
    matchers = {"alertname": alert.alertname, **({"host": alert.host} if alert.host else {})}
    existing = next((s for s in alerts.active_silences() if s.matchers == matchers), None)
    if existing is not None:
        return _answer(alert, f"Already silenced until {existing.ends_at:%H:%M} UTC.", "info", action)
    seconds = _seconds(str(action.value.get("duration") or "1h"))
    alerts.create_silence(matchers=matchers, seconds=seconds, actor=ctx.open_id, chat_id=ctx.chat_id)
    return _answer(alert, f"Silenced {format_matchers(matchers)} for {format_duration(seconds)}.", "success", action)


@card_action("alert.host", role=Role.USER)
def card_host(ctx: CommandContext, action: CardAction) -> CardResponse:
    """Host status button: queue a /status check of the alert's host; the result is posted in the chat."""
    from app.automation import service as automation

    alert = _alert_of(action)
    host = get_inventory().hosts.get(alert.host or "")
    if host is None:
        return CardResponse(toast=f"{alert.host or 'This alert'} is not a host in the inventory.",
                            toast_type="warning")
    count = alerts.open_alert_count(alert.host or "")
    execution = automation.request_run(kind="status", args={"selector": alert.host}, actor=ctx.open_id,
                                       role=ctx.role, chat_id=ctx.chat_id or alert.chat_id)
    if execution.queue_unreachable:
        return CardResponse(toast=f"Status check of {alert.host} recorded (#{execution.id}); it will start when the"
                                  " job queue is back.", toast_type="warning")
    return CardResponse(toast=f"Checking {alert.host} ({count} open alert(s)); the status card follows in this chat.")
