"""The Feishu side of an incident: the war-room group, its card, and posts about notes and closing.

Every step is safe to repeat: the group is created with a uuid derived from the incident (Feishu
makes at most one group per uuid), its chat_id is stored before anything else is posted, and posts
carry uuids too. Without Feishu (embedded or console mode) there is no war room, and callers say so.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from app.incidents import cards
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentNote, IncidentSeverity
from app.infra.db import utcnow
from app.users.service import display_name

logger = logging.getLogger(__name__)

MAX_CHAT_NAME = 60
NO_FEISHU = "Feishu is not configured (embedded/console mode)"
PAGED = (IncidentSeverity.SEV1, IncidentSeverity.SEV2)  # severities whose responders get an in-app buzz


@dataclass(frozen=True)
class WarRoom:
    """The outcome of setting up a war room: its chat, who was asked in, or why there is none."""

    chat_id: str | None
    members: list[str] = field(default_factory=list)
    created: bool = False
    problem: str | None = None  # why there is no war room


def _client() -> Any:
    """The FeishuClient; FeishuNotConfigured when the app has no credentials."""
    from app.feishu.wiring import get_client

    return get_client()


def _feishu_errors() -> tuple[type[Exception], ...]:
    from app.feishu.errors import FeishuError
    from app.feishu.wiring import FeishuNotConfigured

    return FeishuError, FeishuNotConfigured


def chat_link(chat_id: str) -> str:
    """An applink that opens the group in the Feishu (or Lark) client."""
    base = str(current_app.config.get("FEISHU_BASE_URL") or "")
    host = "applink.larksuite.com" if "larksuite" in base else "applink.feishu.cn"
    return f"https://{host}/client/chat/open?openChatId={chat_id}"


def chat_name(incident: Incident) -> str:
    """INC-<id> <title>, shortened to what a group name can hold."""
    name = f"{incident.ref} {incident.title}"
    return name if len(name) <= MAX_CHAT_NAME else name[: MAX_CHAT_NAME - 1] + "…"


def _key(incident: Incident, what: str) -> str:
    # The creation time keeps keys unique even if ids restart (a restored or reset database).
    return f"openclaw-inc-{incident.id}-{int(cards.as_utc(incident.created_at).timestamp())}-{what}"[:50]


def render(incident: Incident) -> dict[str, Any]:
    """The incident card as it should look now."""
    return cards.incident_card(incident, alerts=incidents.linked_alerts(incident),
                               responders=incidents.responders(incident), now=utcnow())


def set_up(incident_id: int, *, actor: str) -> WarRoom:
    """Create the incident's group with its responders and post the incident card there (idempotent)."""
    incident = incidents.get_incident_or_raise(incident_id)
    feishu_error, not_configured = _feishu_errors()
    log = {"incident_id": incident.id, "open_id": actor}
    members = incidents.responders(incident)
    try:
        client = _client()
        created = incident.war_room_chat_id is None
        if created:
            chat_id = client.create_chat(
                chat_name(incident), user_open_ids=members, uuid=_key(incident, "room"),
                description=f"Incident war room, opened by OpenClaw ({incident.severity})",
            )
            incident = incidents.record_war_room(incident_id=incident.id, war_room_chat_id=chat_id, members=members,
                                                 actor=actor)
        else:
            missing = client.add_members(str(incident.war_room_chat_id), members)
            if any(missing.values()):
                logger.warning("some responders could not be added", extra={**log, "missing": missing})
        chat_id = str(incident.war_room_chat_id)
        if incident.card_message_id is None:
            message_id = client.send_card(chat_id, render(incident), uuid=_key(incident, "card"))
            incidents.record_card(incident_id=incident.id, message_id=message_id)
            _page(client, incident, message_id, [m for m in members if m != actor], log)
    except not_configured:
        logger.info("no war room: Feishu is not configured", extra=log)
        if incident.war_room_chat_id is None:
            incidents.record_event(incident_id=incident.id, author=actor, text=f"No war-room chat: {NO_FEISHU}")
        return WarRoom(None, members, problem=NO_FEISHU)
    except feishu_error as exc:
        logger.warning("war room set-up failed", extra={**log, "error": str(exc)})
        problem = f"Feishu refused: {getattr(exc, 'msg', '') or exc}"
        return WarRoom(incident.war_room_chat_id, members, problem=problem)
    logger.info("war room ready", extra={**log, "chat_id": chat_id, "room_created": created})
    return WarRoom(chat_id, members, created=created)


def _page(client: Any, incident: Incident, message_id: str, people: list[str], log: dict[str, Any]) -> None:
    """sev1 and sev2: buzz the responders about the card (in-app); a failed buzz is logged, not fatal."""
    if incident.severity not in PAGED or not people:
        return
    feishu_error, _ = _feishu_errors()
    try:
        invalid = client.urgent(message_id, people, "app")
    except feishu_error as exc:
        logger.warning("incident buzz failed", extra={**log, "error": str(exc)})
        return
    paged = [p for p in people if p not in invalid]
    if paged:
        names = ", ".join(display_name(p) for p in paged)
        incidents.record_event(incident_id=incident.id, author="openclaw", text=f"Buzzed {names} ({incident.severity})")


def join(incident_id: int, open_id: str) -> WarRoom:
    """Add one person to an existing war room."""
    incident = incidents.get_incident_or_raise(incident_id)
    feishu_error, not_configured = _feishu_errors()
    if incident.war_room_chat_id is None:
        return WarRoom(None, problem="it has no war-room chat")
    try:
        _client().add_members(incident.war_room_chat_id, [open_id])
    except (feishu_error, not_configured) as exc:
        logger.warning("could not add to war room", extra={"incident_id": incident.id, "open_id": open_id,
                                                            "error": str(exc)})
        return WarRoom(incident.war_room_chat_id, problem=f"could not add you: {getattr(exc, 'msg', '') or exc}")
    return WarRoom(incident.war_room_chat_id, [open_id])


def _post(chat_id: str, text: str, uuid: str, log: dict[str, Any]) -> bool:
    feishu_error, not_configured = _feishu_errors()
    try:
        _client().send_text(chat_id, text, uuid=uuid)
        return True
    except not_configured:
        return False
    except feishu_error as exc:
        logger.warning("incident post failed", extra={**log, "chat_id": chat_id, "error": str(exc)})
        return False


def mirror_note(incident: Incident, note: IncidentNote, *, from_chat: str | None) -> bool:
    """Copy a note written outside the war room into it, so the room sees the whole story."""
    room = incident.war_room_chat_id
    if room is None or room == from_chat:
        return False
    text = f"📝 {incident.ref} note from {display_name(note.author)}: {note.text}"
    return _post(room, text, _key(incident, f"note-{note.id}"), {"incident_id": incident.id})


def announce_close(incident: Incident, timeline_text: str, *, from_chat: str | None) -> list[str]:
    """Post the closing timeline in the war room, mark its card resolved, tell the chat it was opened in."""
    log = {"incident_id": incident.id}
    told: list[str] = []
    room = incident.war_room_chat_id
    if room and room != from_chat and _post(room, timeline_text, _key(incident, "closed"), log):
        told.append(room)
    if room and incident.card_message_id:
        feishu_error, not_configured = _feishu_errors()
        try:
            _client().update_card(incident.card_message_id, render(incident))
        except (feishu_error, not_configured) as exc:
            logger.warning("incident card update failed", extra={**log, "error": str(exc)})
    origin = incident.chat_id
    if origin and origin.startswith("oc_") and origin not in (from_chat, room):
        summary = f": {incident.summary}" if incident.summary else ""
        text = f"✅ {incident.ref} {incident.title} resolved by {display_name(incident.resolved_by or '')}{summary}"
        if _post(origin, text, _key(incident, "closed-origin"), log):
            told.append(origin)
    return told
