"""Jobs: run one execution in the worker; sweep expired approvals and interrupted runs."""
from __future__ import annotations

import logging

from app.automation import engine, notify, service
from app.automation.errors import ExecutionNotFound
from app.automation.models import Execution
from app.automation.plans import Plan
from app.errors import BotError
from app.infra.queue import job
from app.infra.scheduler import Periodic

logger = logging.getLogger(__name__)


def _plan_or_none(execution: Execution) -> Plan | None:
    try:
        return service.plan_of(execution)
    except BotError:
        return None


def _progress(execution: Execution, plan: Plan, _index: int) -> None:
    fresh = service.get_execution(execution.id)
    if fresh is not None:
        notify.push_progress(fresh, plan)


@job("automation", timeout=4000)
def execute_run(execution_id: int) -> str | None:
    """Run a queued execution on its hosts and record the outcome; a rerun finds nothing to do."""
    execution = service.get_execution(execution_id)
    if execution is None:
        raise ExecutionNotFound(f"execution {execution_id} not found")
    if execution.status.finished:
        logger.info("execution already settled", extra={"execution_id": execution_id, "status": str(execution.status)})
        return str(execution.status)
    plan = _plan_or_none(execution)
    notify.push_progress(execution, plan)
    result = engine.perform(execution_id, on_progress=_progress)
    notify.push_progress(result, plan)
    return str(result.status)


@job("default", timeout=300)
def sweep_executions() -> dict[str, int]:
    """Expire unanswered approvals, mark runs whose worker died as interrupted (never re-run), requeue lost jobs."""
    expired = service.expire_approvals()
    for execution_id in expired:  # repaint each approval card as expired
        notify.push_progress(service.get_execution_or_raise(execution_id), None)
    interrupted = service.mark_interrupted_stale()
    requeued = service.requeue_stale_queued()
    if expired or interrupted or requeued:
        logger.info("execution sweep", extra={"expired": len(expired), "interrupted": interrupted,
                                              "requeued": requeued})
    return {"expired": len(expired), "interrupted": interrupted}


PERIODIC = (
    Periodic("sweep_executions", lambda app: int(app.config["EXECUTION_SWEEP_INTERVAL"]), sweep_executions),
)
