"""The postmortem draft written when an incident closes.

The facts (timeline, linked alerts, actions and their results) come from the record as
they are; a model drafts the Summary, Impact and Follow-ups from those facts only. The
result is a knowledge-base article in draft state, marked as such, for the commander to
edit and publish. Each resolved incident is drafted once: the row is claimed first.
"""
from __future__ import annotations

import logging
import secrets

from flask import current_app
from sqlalchemy import select, update

from app import localtime
from app.ai.client import LLMUnavailable
from app.ai.metering import CallMeta, measure
from app.ai.prompts import render
from app.ai.service import get_client as get_llm
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentStatus, NoteKind
from app.infra.db import db
from app.kb import service as kb

logger = logging.getLogger(__name__)

AUTHOR = "openclaw"
DRAFTING, DRAFTED = "drafting", "drafted"
MODEL_MISSING = "_The model was unavailable when this draft was written; fill in the summary, impact and follow-ups._"


def record_of(incident: Incident) -> str:
    """The incident's facts as markdown: header, timeline, linked alerts, actions taken."""
    lines = [f"**Incident** {incident.ref} {incident.title}", f"**Severity** {incident.severity}",
             f"**Commander** {incident.commander}",
             f"**Opened** {localtime.fmt(incident.created_at)} by {incident.opened_by}",
             f"**Resolved** {localtime.fmt(incident.resolved_at)} by {incident.resolved_by or '-'}"]
    if incident.summary:
        lines.append(f"**Closing summary** {incident.summary}")
    lines += ["", "### Timeline"]
    for note in incidents.timeline(incident.id):
        who = "OpenClaw" if note.kind == NoteKind.EVENT else note.author
        lines.append(f"- {localtime.fmt(note.created_at)} {who}: {note.text}")
    lines += ["", "### Linked alerts"]
    for alert in incidents.linked_alerts(incident):
        lines.append(f"- #{alert.id} {alert.title} ({alert.severity}): received {localtime.fmt(alert.created_at)}, "
                     f"acknowledged {localtime.fmt(alert.acked_at)} by {alert.acked_by or '-'}, "
                     f"resolved {localtime.fmt(alert.resolved_at)}")
    if not incident.alert_ids:
        lines.append("- none")
    lines += ["", "### Actions taken"]
    taken = incidents.actions(incident)
    for execution in taken:
        lines.append(f"- #{execution.id} {execution.kind} {execution.target} by {execution.requested_by} at "
                     f"{localtime.fmt(execution.created_at)}: {execution.status}"
                     + (f" ({execution.summary})" if execution.summary else ""))
    if not taken:
        lines.append("- none recorded")
    return "\n".join(lines)


def _model_sections(incident: Incident, record: str) -> str:
    """Summary, Impact and Follow-ups from the model, grounded in record; a note when it is unavailable."""
    boundary = f"<<<RECORD-{secrets.token_hex(6)}>>>"
    fenced = record.replace("<<<", "‹‹‹")
    prompt = render("postmortem", boundary=boundary, record=fenced)
    meta = CallMeta(f"postmortem:{incident.id}", incident.commander, incident.war_room_chat_id or incident.chat_id)
    try:
        result = measure(get_llm(), [{"role": "user", "content": prompt}], meta=meta,
                         slow_ms=int(current_app.config["LLM_SLOW_MS"]))
    except LLMUnavailable:
        logger.warning("postmortem drafted without the model", extra={"incident_id": incident.id})
        return MODEL_MISSING
    return (result.content or "").strip() or MODEL_MISSING


def claim_next() -> Incident | None:
    """A resolved incident with no draft yet, claimed for this worker (None when there is none)."""
    for incident_id in db.session.scalars(select(Incident.id).where(
            Incident.status == IncidentStatus.RESOLVED.value, Incident.postmortem_state.is_(None)
    ).order_by(Incident.id).limit(5)):
        claimed = db.session.execute(update(Incident).where(
            Incident.id == incident_id, Incident.postmortem_state.is_(None)).values(postmortem_state=DRAFTING))
        db.session.commit()
        if claimed.rowcount:
            return incidents.get_incident(incident_id)
    return None


def draft(incident: Incident) -> int:
    """Write the draft article for a claimed incident; its article id."""
    record = record_of(incident)
    body = "\n\n".join([
        f"> **DRAFT** written by OpenClaw when {incident.ref} was closed. The facts below come from the record; "
        "Summary, Impact and Follow-ups were drafted by a model from those facts only. Check them, edit, then publish.",
        _model_sections(incident, record), "## The record", record])
    article = kb.add_article(title=f"Postmortem {incident.ref}: {incident.title}"[:200], body=body, author=AUTHOR,
                             tags=["postmortem", "incident"], chat_id=incident.war_room_chat_id, draft=True)
    db.session.execute(update(Incident).where(Incident.id == incident.id).values(
        postmortem_state=DRAFTED, postmortem_article_id=article.id))
    db.session.commit()
    logger.info("postmortem drafted", extra={"incident_id": incident.id, "article_id": article.id})
    return article.id
