"""/incident: open an incident with a war-room chat, keep its timeline, close it, list and show them."""
from __future__ import annotations

import re

from app.chat.args import Args, Param, positive_int
from app.chat.registry import command, subcommands
from app.chat.types import CommandContext, Reply, Role
from app.incidents import cards, war_room
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentSeverity
from app.infra.db import utcnow
from app.users.service import display_name

SEVERITIES = "|".join(s.value for s in IncidentSeverity)

def incident_number(text: str) -> int:
    """7, #7 or INC-7."""
    match = re.fullmatch(r"(?:#|inc-?)?(\d+)", text.strip(), flags=re.IGNORECASE)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not an incident number (e.g. 7 or INC-7)")
    return int(match.group(1))


def severity(text: str) -> IncidentSeverity:
    """sev1..sev4 (also SEV2, 2, P2)."""
    match = re.fullmatch(r"(?:sev|p)?([1-4])", text.strip(), flags=re.IGNORECASE)
    if not match:
        raise ValueError(f"{text!r} is not a severity; use one of {SEVERITIES}")
    return IncidentSeverity(f"sev{match.group(1)}")


_ID = Param("id", convert=incident_number)


def _line(incident: Incident) -> str:
    room = " · war room" if incident.war_room_chat_id else ""
    age = cards.duration(incident, utcnow())
    state = f"open for {age}" if incident.is_open else f"resolved after {age}"
    return (f"{incident.ref} [{incident.severity}] {incident.title} · {state}"
            f" · commander {display_name(incident.commander)}{room}")


def _timeline_text(incident: Incident) -> str:
    return "\n".join(cards.timeline_lines(incidents.timeline(incident.id), display_name))


@command("incident", usage="/incident open|note|close|list|show|room ...", read_only=True)
def incident_help(ctx: CommandContext, args: Args) -> Reply:
    """Incident collaboration: the subcommands."""
    return Reply.of_text("Usage: " + " · ".join(spec.usage for spec in subcommands("incident", ctx.role)))


@command("incident open", mutating=True, usage=f"/incident open [--sev {SEVERITIES}] [--alert ID] TITLE", role=Role.OPERATOR,
         params=(Param("title", required=False, rest=True),),
         options=(Param("sev", required=False, convert=severity, default=IncidentSeverity.SEV3),
                  Param("alert", required=False, convert=positive_int)))
def incident_open(ctx: CommandContext, args: Args) -> Reply:
    """Open an incident: you lead it; a war-room chat gathers who is on call."""
    opened = incidents.open_incident(title=args.get("title"), severity=args["sev"], alert_id=args.get("alert"),
                                     actor=ctx.open_id, chat_id=ctx.chat_id, event_id=ctx.event_id)
    incident = opened.incident
    room = war_room.set_up(incident.id, actor=ctx.open_id)
    lines = [f"🚨 Opened {incident.ref} [{incident.severity}] {incident.title}, commander "
             f"{display_name(incident.commander)}." if opened.created else
             f"{incident.ref} [{incident.severity}] {incident.title} is already open for this message."]
    for alert in incidents.linked_alerts(incident):
        lines.append(f"Linked alert {cards.alert_line(alert)}.")
    if room.chat_id and not room.problem:
        names = ", ".join(display_name(m) for m in room.members) or "nobody yet"
        lines.append(f"War room “{war_room.chat_name(incident)}” with {names}: {war_room.chat_link(room.chat_id)}")
    elif room.problem == war_room.NO_FEISHU:
        lines.append(f"No war-room chat: {war_room.NO_FEISHU}; keep the conversation here.")
    else:
        lines.append(f"The war-room chat could not be set up ({room.problem}); the incident is open anyway."
                     f" Try again with /incident room {incident.id}.")
    lines.append(f"Timeline: /incident note {incident.id} TEXT · close: /incident close {incident.id} SUMMARY")
    return Reply.of_text("\n".join(lines))


@command("incident note", mutating=True, usage="/incident note ID TEXT", role=Role.OPERATOR,
         params=(_ID, Param("text", rest=True)))
def incident_note(ctx: CommandContext, args: Args) -> Reply:
    """Add a note to an incident's timeline."""
    note = incidents.add_note(incident_id=args["id"], author=ctx.open_id, text=args["text"], chat_id=ctx.chat_id)
    incident = incidents.get_incident_or_raise(args["id"])
    war_room.mirror_note(incident, note, from_chat=ctx.chat_id)
    after = "" if incident.is_open else " (it is resolved; the note is kept for the review)"
    return Reply.of_text(f"📝 Noted on {incident.ref}{after}.")


@command("incident close", mutating=True, usage="/incident close ID [SUMMARY]", role=Role.OPERATOR,
         params=(_ID, Param("summary", required=False, rest=True)))
def incident_close(ctx: CommandContext, args: Args) -> Reply:
    """Resolve an incident with a summary and post its timeline."""
    result = incidents.close_incident(incident_id=args["id"], actor=ctx.open_id, summary=args.get("summary"),
                                      chat_id=ctx.chat_id)
    incident = result.incident
    if not result.changed:
        when = f" at {incident.resolved_at:%Y-%m-%d %H:%M} UTC" if incident.resolved_at else ""
        return Reply.of_text(f"{incident.ref} is already resolved (by {display_name(incident.resolved_by or '-')}"
                             f"{when}).")
    text = "\n".join([
        (f"✅ {incident.ref} {incident.title} resolved after {cards.duration(incident, utcnow())}"
         f" by {display_name(ctx.open_id)}."),
        *([f"Summary: {incident.summary}"] if incident.summary else []),
        "Timeline:", _timeline_text(incident),
    ])
    war_room.announce_close(incident, text, from_chat=ctx.chat_id)
    return Reply.of_text(text)


@command("incident list", usage="/incident list [all]", read_only=True,
         params=(Param("which", required=False, choices=("open", "all")),))
def incident_list(ctx: CommandContext, args: Args) -> Reply:
    """Open incidents (or the latest of all with `all`), newest first."""
    everything = args.get("which") == "all"
    found = incidents.list_incidents(open_only=not everything)
    if not found:
        return Reply.of_text("No incidents yet." if everything else "No open incidents.")
    title = "Latest incidents:" if everything else "Open incidents:"
    return Reply.of_text("\n".join([title, *(_line(i) for i in found)]))


@command("incident show", usage="/incident show ID", read_only=True, params=(_ID,))
def incident_show(ctx: CommandContext, args: Args) -> Reply:
    """An incident's facts and timeline."""
    incident = incidents.get_incident_or_raise(args["id"])
    lines = [_line(incident),
             f"Opened {incident.created_at:%Y-%m-%d %H:%M} UTC by {display_name(incident.opened_by)}"]
    if incident.resolved_at:
        lines.append(f"Resolved {incident.resolved_at:%Y-%m-%d %H:%M} UTC by "
                     f"{display_name(incident.resolved_by or '-')}")
    lines += [f"Alert {cards.alert_line(a)}" for a in incidents.linked_alerts(incident)]
    if incident.war_room_chat_id:
        lines.append(f"War room: {war_room.chat_link(incident.war_room_chat_id)}")
    if incident.summary:
        lines.append(f"Summary: {incident.summary}")
    lines += ["Timeline:", _timeline_text(incident)]
    return Reply.of_text("\n".join(lines))


@command("incident room", mutating=True, usage="/incident room ID", role=Role.OPERATOR, params=(_ID,))
def incident_room(ctx: CommandContext, args: Args) -> Reply:
    """Join an incident's war room (creating it if that failed before)."""
    incident = incidents.get_incident_or_raise(args["id"])
    if incident.is_open and (incident.war_room_chat_id is None or incident.card_message_id is None):
        room = war_room.set_up(incident.id, actor=ctx.open_id)
        if room.problem:
            return Reply.of_text(f"{incident.ref} has no war-room chat: {room.problem}.")
    room = war_room.join(incident.id, ctx.open_id)
    if room.problem:
        return Reply.of_text(f"{incident.ref}: {room.problem}.")
    return Reply.of_text(f"{incident.ref} war room: {war_room.chat_link(str(room.chat_id))}")
