"""Incident services: open, note, close, record the war room; each commits and audits its change."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from app.alerts import service as alerts
from app.alerts.models import Alert, RemediationRun
from app.alerts.oncall import person_at, schedule_for
from app.audit import service as audit
from app.automation.models import Execution
from app.errors import BotError, UsageError
from app.incidents.models import Incident, IncidentNote, IncidentSeverity, IncidentStatus, NoteKind
from app.infra.db import db, utcnow
from app.inventory import get_inventory

logger = logging.getLogger(__name__)

MAX_TITLE, MAX_TEXT = 200, 4000
MAX_ACTIONS = 100


class IncidentNotFound(BotError):
    """No incident has that id."""


@dataclass(frozen=True)
class Opened:
    """The incident for an /incident open, and whether this call created it (False: a redelivery)."""

    incident: Incident
    created: bool


@dataclass(frozen=True)
class Transition:
    """The incident after a state change, and whether this call made the change."""

    incident: Incident
    changed: bool


# -- queries -----------------------------------------------------------------------------------


def get_incident(incident_id: int) -> Incident | None:
    """The incident read fresh, or None."""
    return db.session.get(Incident, incident_id, populate_existing=True)


def get_incident_or_raise(incident_id: int) -> Incident:
    """The incident read fresh; IncidentNotFound otherwise."""
    incident = get_incident(incident_id)
    if incident is None:
        raise IncidentNotFound(f"incident {incident_id} not found", user_message=f"No incident #{incident_id}.")
    return incident


def list_incidents(*, open_only: bool = True, limit: int = 20) -> list[Incident]:
    """Incidents newest first; only open ones unless asked."""
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if open_only:
        query = query.where(Incident.status == IncidentStatus.OPEN.value)
    return list(db.session.scalars(query))


def timeline(incident_id: int) -> list[IncidentNote]:
    """The incident's notes and events, oldest first."""
    return list(db.session.scalars(
        select(IncidentNote).where(IncidentNote.incident_id == incident_id).order_by(IncidentNote.id)
    ))


def linked_alerts(incident: Incident) -> list[Alert]:
    """The alerts the incident was opened from (missing ones skipped)."""
    found = (alerts.get_alert(int(alert_id)) for alert_id in incident.alert_ids or [])
    return [alert for alert in found if alert is not None]


def responders(incident: Incident, now: datetime | None = None) -> list[str]:
    """Who belongs in the war room: opener, commander, whoever acked a linked alert, and who is on call.

    On call means the schedule of each linked alert (its own, its service's, or its oncall label);
    with no linked alert, or none that names a schedule, everyone on call now in any schedule.
    """
    now = now or utcnow()
    inventory = get_inventory()
    people = [incident.opened_by, incident.commander]
    schedules: list[str] = []
    for alert in linked_alerts(incident):
        if alert.acked_by:
            people.append(alert.acked_by)
        name = alert.schedule or schedule_for(inventory, service=alert.service, labels=alerts.labels_of(alert))
        if name in inventory.oncall and name not in schedules:
            schedules.append(name)
    for name in schedules or sorted(inventory.oncall):
        people.append(person_at(inventory.oncall[name], now))
    unique = list(dict.fromkeys(people))
    skipped = [p for p in unique if not p.startswith("ou_")]
    if skipped:  # console or API actors are not Feishu users; a bad id would fail the whole chat creation
        logger.info("responders without a Feishu open_id left out", extra={"incident_id": incident.id, "skipped": skipped})
    return [p for p in unique if p.startswith("ou_")]


def actions(incident: Incident) -> list[Execution]:
    """What was done about it: executions asked for in its chats while it was open, and self-healing runs
    of its linked alerts, oldest first."""
    chats = [c for c in (incident.war_room_chat_id, incident.chat_id) if c]
    until = incident.resolved_at or utcnow()
    conditions = []
    if chats:
        conditions.append((Execution.chat_id.in_(chats)) & (Execution.created_at >= incident.created_at)
                          & (Execution.created_at <= until))
    remediated = select(RemediationRun.execution_id).where(
        RemediationRun.alert_id.in_([int(a) for a in incident.alert_ids or []]),
        RemediationRun.execution_id.is_not(None))
    conditions.append(Execution.id.in_(remediated))
    query = select(Execution).where(or_(*conditions)).order_by(Execution.id).limit(MAX_ACTIONS)
    return list(db.session.scalars(query))


def participants(incident: Incident) -> list[str]:
    """Everyone who took part: commander, opener, note authors, acknowledgers, who ran actions, who closed it."""
    people = [incident.commander, incident.opened_by]
    people += [note.author for note in timeline(incident.id)]
    people += [a.acked_by for a in linked_alerts(incident) if a.acked_by]
    people += [e.requested_by for e in actions(incident)]
    if incident.resolved_by:
        people.append(incident.resolved_by)
    return list(dict.fromkeys(p for p in people if p))


# -- changes -----------------------------------------------------------------------------------


def _clean(text: str | None, what: str, limit: int) -> str:
    cleaned = " ".join((text or "").split()) if what == "title" else (text or "").strip()
    if len(cleaned) > limit:
        raise UsageError(f"the {what} may have at most {limit} characters")
    return cleaned


def _event(incident_id: int, author: str, text: str) -> None:
    db.session.add(IncidentNote(incident_id=incident_id, author=author, kind=NoteKind.EVENT, text=text))


def _audit(actor: str, action: str, incident: Incident, chat_id: str | None, **details: object) -> None:
    audit.record(actor=actor, action=action, target=f"incident:{incident.id}", chat_id=chat_id,
                 details={"incident_id": incident.id, "title": incident.title, **details})


def open_incident(
    *, title: str | None, actor: str, chat_id: str | None = None,
    severity: IncidentSeverity = IncidentSeverity.SEV3, alert_id: int | None = None, event_id: str | None = None,
) -> Opened:
    """Open an incident led by actor, optionally from an alert (its title when none is given)."""
    if event_id:
        existing = db.session.scalar(select(Incident).where(Incident.opened_event_id == event_id))
        if existing is not None:
            return Opened(existing, False)
    alert = alerts.get_alert_or_raise(alert_id) if alert_id is not None else None
    cleaned = _clean(title, "title", MAX_TITLE) or (alert.title if alert else "")
    if not cleaned:
        raise UsageError("an incident needs a title (or --alert ID to take the alert's)")
    incident = Incident(
        title=cleaned[:MAX_TITLE], severity=IncidentSeverity(severity), status=IncidentStatus.OPEN, commander=actor,
        opened_by=actor, chat_id=chat_id, opened_event_id=event_id, alert_ids=[alert.id] if alert else [],
    )
    db.session.add(incident)
    try:
        db.session.flush()
    except IntegrityError:  # the same event, opened by another worker a moment ago
        db.session.rollback()
        existing = db.session.scalar(select(Incident).where(Incident.opened_event_id == event_id))
        if existing is None:
            raise
        return Opened(existing, False)
    linked = f"; linked alert #{alert.id} {alert.title}" if alert else ""
    _event(incident.id, actor, f"Opened ({incident.severity}): {incident.title}{linked}")
    db.session.commit()
    _audit(actor, "incident.open", incident, chat_id, severity=str(incident.severity), alert_ids=incident.alert_ids)
    logger.info("incident opened", extra={"incident_id": incident.id, "open_id": actor, "event_id": event_id})
    return Opened(incident, True)


def add_note(*, incident_id: int, author: str, text: str, chat_id: str | None = None) -> IncidentNote:
    """Append a note to the timeline (allowed after resolve too, for the review)."""
    incident = get_incident_or_raise(incident_id)
    cleaned = _clean(text, "note", MAX_TEXT)
    if not cleaned:
        raise UsageError("a note needs some text")
    note = IncidentNote(incident_id=incident.id, author=author, kind=NoteKind.NOTE, text=cleaned)
    db.session.add(note)
    db.session.commit()
    _audit(author, "incident.note", incident, chat_id, note_id=note.id, text=cleaned[:500])
    return note


def close_incident(
    *, incident_id: int, actor: str, summary: str | None = None, chat_id: str | None = None,
    now: datetime | None = None,
) -> Transition:
    """Resolve an open incident with a summary; closing a resolved one changes nothing."""
    now = now or utcnow()
    cleaned = _clean(summary, "summary", MAX_TEXT) or None
    get_incident_or_raise(incident_id)
    result = db.session.execute(
        update(Incident).where(Incident.id == incident_id, Incident.status == IncidentStatus.OPEN.value)
        .values(status=IncidentStatus.RESOLVED.value, resolved_at=now, resolved_by=actor, summary=cleaned)
    )
    if result.rowcount:
        _event(incident_id, actor, f"Resolved: {cleaned}" if cleaned else "Resolved")
    db.session.commit()
    incident = get_incident_or_raise(incident_id)
    if result.rowcount:
        _audit(actor, "incident.close", incident, chat_id, summary=cleaned)
        logger.info("incident resolved", extra={"incident_id": incident.id, "open_id": actor})
    return Transition(incident, bool(result.rowcount))


def record_war_room(*, incident_id: int, war_room_chat_id: str, members: list[str], actor: str) -> Incident:
    """Remember the war-room chat created for the incident (the first one wins)."""
    result = db.session.execute(
        update(Incident).where(Incident.id == incident_id, Incident.war_room_chat_id.is_(None))
        .values(war_room_chat_id=war_room_chat_id)
    )
    if result.rowcount:
        _event(incident_id, actor, f"War room created with {len(members)} member(s)")
    db.session.commit()
    incident = get_incident_or_raise(incident_id)
    if result.rowcount:
        _audit(actor, "incident.war_room", incident, incident.chat_id, war_room_chat_id=war_room_chat_id,
               members=members)
    return incident


def record_card(*, incident_id: int, message_id: str) -> None:
    """Remember the incident card posted in the war room, so it can be updated on close."""
    db.session.execute(update(Incident).where(Incident.id == incident_id).values(card_message_id=message_id))
    db.session.commit()


def record_event(*, incident_id: int, author: str, text: str) -> None:
    """A bot-written timeline entry for something that is not a state change (e.g. no war room)."""
    _event(incident_id, author, text)
    db.session.commit()
