"""The periodic self-monitoring job."""
from __future__ import annotations

from typing import Any

from app.infra.queue import job
from app.infra.scheduler import Periodic
from app.monitoring import selfmon


@job("default", timeout=60)
def check_self() -> dict[str, Any]:
    """Evaluate the in-app rules once (app/schedule.py runs this every SELFMON_INTERVAL seconds)."""
    result = selfmon.evaluate()
    return {"new": len(result.new), "resolved": len(result.resolved), "repeats": result.repeats}


PERIODIC = (
    Periodic("selfmon", lambda app: int(app.config["SELFMON_INTERVAL"]), check_self),
)
