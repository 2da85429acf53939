"""Pure builders: the incident card (Feishu card JSON 2.0) and the plain-text timeline."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from app import localtime
from app.alerts.models import Alert
from app.durations import format_duration
from app.feishu.markdown import escape
from app.incidents.models import Incident, IncidentNote, IncidentStatus, NoteKind

COLOURS = {"sev1": "red", "sev2": "orange", "sev3": "yellow", "sev4": "blue"}
MAX_TIMELINE = 50


def _when(value: datetime | None) -> str:
    return localtime.fmt(value)


def _at(open_ids: Sequence[str]) -> str:
    return " ".join(f"<at id={oid}></at>" for oid in open_ids) or "-"


def as_utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def duration(incident: Incident, now: datetime) -> str:
    """How long it has been open, or how long it was open (whole minutes, at least 1m)."""
    seconds = int((as_utc(incident.resolved_at or now) - as_utc(incident.created_at)).total_seconds())
    return format_duration(max(60, seconds) // 60 * 60)


def alert_line(alert: Alert) -> str:
    return f"#{alert.id} {alert.title} ({alert.status})"


def incident_card(
    incident: Incident, *, alerts: Sequence[Alert], responders: Sequence[str], now: datetime,
) -> dict[str, Any]:
    """The card in the war room: what, how bad, who leads, who is here, and how to add to the timeline."""
    resolved = incident.status == IncidentStatus.RESOLVED
    state = "RESOLVED" if resolved else str(incident.severity).upper()
    facts = [
        f"**Status** {incident.status}" + (f" after {duration(incident, now)}" if resolved else ""),
        f"**Severity** {incident.severity}",
        f"**Commander** {_at([incident.commander])}",
        f"**Opened** {_when(incident.created_at)} by {_at([incident.opened_by])}",
        f"**Responders** {_at(responders)}",
    ]
    if alerts:
        facts.append("**Alerts** " + "; ".join(escape(alert_line(a)) for a in alerts))
    elements: list[dict[str, Any]] = [{"tag": "markdown", "content": "\n".join(facts)}]
    if resolved:
        by = f" by <at id={incident.resolved_by}></at>" if incident.resolved_by else ""
        text = f"✅ **Resolved**{by} at {_when(incident.resolved_at)}"
        if incident.summary:
            text += f"\n**Summary** {escape(incident.summary)}"
        elements.append({"tag": "markdown", "content": text})
    else:
        elements.append({"tag": "markdown", "content": (
            f"Add to the timeline: `/incident note {incident.id} TEXT`\n"
            f"Close: `/incident close {incident.id} SUMMARY` · everything so far: `/incident show {incident.id}`")})
    elements.append({"tag": "div", "text": {"tag": "plain_text", "content": f"{incident.ref} · opened via OpenClaw",
                                            "text_size": "notation", "text_color": "grey"}})
    title = f"[{state}] {incident.ref} {incident.title}"
    return {
        "schema": "2.0",
        "config": {"update_multi": True, "width_mode": "fill", "summary": {"content": title}},
        "header": {
            "title": {"tag": "plain_text", "content": title},
            "subtitle": {"tag": "plain_text", "content": f"{incident.severity} · {incident.status}"},
            "template": "green" if resolved else COLOURS.get(str(incident.severity), "blue"),
            "text_tag_list": [{"tag": "text_tag", "text": {"tag": "plain_text", "content": str(incident.severity)},
                               "color": COLOURS.get(str(incident.severity), "blue")}],
        },
        "body": {"direction": "vertical", "elements": elements},
    }


def timeline_lines(notes: Sequence[IncidentNote], name_of: Callable[[str], str]) -> list[str]:
    """One line per entry, oldest first; only the last MAX_TIMELINE when there are more."""
    lines = []
    if len(notes) > MAX_TIMELINE:
        lines.append(f"(… {len(notes) - MAX_TIMELINE} earlier entries)")
        notes = notes[-MAX_TIMELINE:]
    for note in notes:
        marker = "•" if note.kind == NoteKind.EVENT else "📝"
        lines.append(f"{note.created_at:%m-%d %H:%M} {marker} {name_of(note.author)}: {note.text}")
    return lines
