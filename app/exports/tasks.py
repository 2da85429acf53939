"""The periodic Bitable export job (bulk lane: it never takes the slots replies to people need)."""
from __future__ import annotations

import logging

from app.exports.bitable import sync
from app.exports.bitable_api import BitableApi
from app.feishu.wiring import FeishuNotConfigured, get_client
from app.infra.lanes import Lane
from app.infra.queue import job
from app.infra.scheduler import Periodic
from app.inventory import get_inventory

logger = logging.getLogger(__name__)


@job("default", timeout=600, lane=Lane.BULK)
def export_to_bitable() -> dict[str, dict[str, object]]:
    """Upsert new and changed alerts, incidents and executions into the configured Bitable."""
    config = get_inventory().exports.bitable
    if config is None:
        return {}
    try:
        client = get_client()
    except FeishuNotConfigured:
        logger.warning("exports.bitable is set but FEISHU_APP_ID/FEISHU_APP_SECRET are not; nothing exported")
        return {}
    outcomes = sync(BitableApi(client, config.app_token), config.tables.model_dump())
    summary = {kind: {"created": o.created, "updated": o.updated, "unchanged": o.unchanged, "error": o.error}
               for kind, o in outcomes.items()}
    logger.info("bitable export", extra={"outcomes": summary})
    return summary


PERIODIC = (
    Periodic("bitable_export", lambda app: 60, export_to_bitable),
)
