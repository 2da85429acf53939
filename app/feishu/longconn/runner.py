"""Start connectors: in the foreground (`flask feishu connect`) or as a thread of the embedded web process."""
from __future__ import annotations

import logging
import os
import socket
import threading

from flask import Flask

from app.feishu.longconn.connector import Connector

logger = logging.getLogger(__name__)


def connector_name(suffix: str = "") -> str:
    """host-pid[-suffix]: unique per process, readable on the admin page."""
    return f"{socket.gethostname()}-{os.getpid()}{'-' + suffix if suffix else ''}"


def build(app: Flask, suffix: str = "") -> Connector:
    config = app.config
    return Connector(
        app, name=connector_name(suffix), base_url=config["FEISHU_BASE_URL"],
        app_id=config["FEISHU_APP_ID"], app_secret=config["FEISHU_APP_SECRET"],
    )


def wanted(app: Flask) -> bool:
    """Long connection chosen and the app's credentials present."""
    return app.config.get("FEISHU_TRANSPORT") == "longconn" and bool(app.config.get("FEISHU_APP_ID"))


def start_embedded(app: Flask) -> Connector | None:
    """Embedded mode (gunicorn's post_worker_init): one connector thread beside the in-process jobs."""
    if not app.config.get("EMBEDDED") or not wanted(app):
        return None
    connector = build(app)

    def run() -> None:
        try:
            connector.run()
        except Exception as exc:
            logger.error("long connection stopped for good; events will not arrive until restart",
                         extra={"reason": str(exc)})

    threading.Thread(target=run, name="openclaw-longconn", daemon=True).start()
    logger.info("long connection started in this process", extra={"connector": connector.status.name})
    return connector
