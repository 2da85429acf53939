"""Jobs: deliver staged messages; the sweep queues the ones still owed."""
from __future__ import annotations

import logging

from app.infra.queue import enqueue, job
from app.infra.scheduler import Periodic
from app.outbox import service

logger = logging.getLogger(__name__)


@job("default", timeout=300)
def deliver_outbox(outbox_ids: list[int]) -> int:
    """One delivery attempt for each row, in order (the first probes Feishu); returns how many are sent."""
    return sum(1 for index, outbox_id in enumerate(outbox_ids) if service.deliver(outbox_id, probe=index == 0))


@job("default", timeout=120)
def sweep_outbox() -> int:
    """Queue a delivery job for every pending row whose next attempt is due (none while Feishu is failing)."""
    if service.PAUSE.active():
        return 0
    ids = service.due()
    if ids:
        enqueue(deliver_outbox, ids)
        logger.info("outbox sweep queued deliveries", extra={"count": len(ids)})
    return len(ids)


PERIODIC = (
    Periodic("sweep_outbox", lambda app: int(app.config["EVENT_SWEEP_INTERVAL"]), sweep_outbox),
)
