"""Fault points: named places where the fault-injection suite makes this process die (SIGKILL).

Off unless FAULT_POINTS names them (comma-separated); never set it in production. The suite
in tests/faults/ uses them to kill a worker or web process at an exact step, e.g. after a
command ran but before its reply was stored.
"""
from __future__ import annotations

import logging
import os
import signal

from flask import current_app

logger = logging.getLogger(__name__)


def fault_point(name: str) -> None:
    """SIGKILL this process here when FAULT_POINTS lists name; otherwise nothing."""
    points = current_app.config.get("FAULT_POINTS") or ""
    if name in (p.strip() for p in points.split(",")):
        logger.warning("fault point reached: killing this process", extra={"fault_point": name})
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
