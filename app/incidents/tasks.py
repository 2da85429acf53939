"""Incident jobs: draft the postmortem of every resolved incident, once each."""
from __future__ import annotations

import logging

from app.incidents import postmortem
from app.infra.lanes import Lane
from app.infra.queue import job
from app.infra.scheduler import Periodic

logger = logging.getLogger(__name__)


@job("default", timeout=600, lane=Lane.BULK)
def draft_postmortems(limit: int = 5) -> list[int]:
    """Draft up to limit postmortems; the article ids. Safe to run in several workers at once."""
    drafted = []
    for _ in range(limit):
        incident = postmortem.claim_next()
        if incident is None:
            break
        drafted.append(postmortem.draft(incident))
    return drafted


PERIODIC = (
    Periodic("postmortems", lambda app: 30, draft_postmortems),
)
