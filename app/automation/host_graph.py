"""/status HOST's picture: load, memory and disk of one host over the last hour, from Prometheus."""
from __future__ import annotations

import logging
import time

from flask import current_app

from app.alerts.graph import GraphUnavailable, Series, query_range, render_panels
from app.automation.prometheus import QUERIES, instance_regex, selector
from app.inventory import get_inventory

logger = logging.getLogger(__name__)

PANELS = (("load (1m)", "node_load1{{{sel}}}"), ("memory used %", QUERIES["memory"]), ("disk / used %", QUERIES["disk"]))


def image_key(host_name: str, *, now: float | None = None) -> str | None:
    """The uploaded PNG's image_key, or None (no Prometheus, no app, host unknown to Prometheus, failure)."""
    config = current_app.config
    base_url = config.get("PROMETHEUS_URL")
    host = get_inventory().hosts.get(host_name)
    if not (base_url and config.get("FEISHU_APP_ID") and config["ALERT_GRAPH_REFRESH"] and host):
        return None
    regex = instance_regex(host)
    if regex is None:
        return None
    sel = selector([regex])
    now = time.time() if now is None else now
    panels: list[tuple[str, Series]] = []
    try:
        for title, template in PANELS:
            try:
                panels.append((title, query_range(base_url, template.format(sel=sel), end=now,
                                                  timeout=config["PROMETHEUS_TIMEOUT"])))
            except GraphUnavailable as exc:
                logger.info("status graph panel skipped", extra={"host": host_name, "panel": title, "reason": str(exc)})
        if not panels:
            return None
        from app.feishu.images import upload_png
        from app.feishu.wiring import get_client

        return upload_png(get_client(), render_panels(panels))
    except Exception as exc:  # the status card goes out without its picture
        logger.warning("status graph not attached", extra={"host": host_name, "reason": str(exc)[:200]})
        return None
