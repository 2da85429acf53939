"""/api/v1/executions: list, get (with host-by-host output), cancel."""
from __future__ import annotations

from typing import Any

from flask import jsonify

from app.automation import service as automation
from app.automation.models import Execution, ExecutionHost
from app.inventory.schema import Role
from app.web.api import bp
from app.web.api.auth import current, requires
from app.web.api.common import iso, paged
from app.web.queries import executions as queries
from app.web.request_args import page_and_size, parse_filter


def execution_json(execution: Execution) -> dict[str, Any]:
    """An execution without its output."""
    return {
        "id": execution.id, "kind": str(execution.kind), "target": execution.target, "args": execution.args or {},
        "status": str(execution.status), "requested_by": execution.requested_by, "approver": execution.approver,
        "cancelled_by": execution.cancelled_by, "summary": execution.summary, "created_at": iso(execution.created_at),
        "started_at": iso(execution.started_at), "finished_at": iso(execution.finished_at),
        "duration_ms": execution.duration_ms,
    }


def host_json(host: ExecutionHost) -> dict[str, Any]:
    """One command on one host, with its (redacted) output."""
    return {"host": host.host, "step": host.step, "step_name": host.step_name, "command": host.command,
            "outcome": host.outcome, "exit_code": host.exit_code, "output": host.output, "error": host.error,
            "started_at": iso(host.started_at), "finished_at": iso(host.finished_at)}


@bp.get("/executions")
@requires(Role.AUDITOR)
def list_executions() -> Any:
    """Executions, newest first; ?status=&kind=&requested_by=."""
    flt = parse_filter(queries.ExecutionFilter)
    return paged(queries.list_executions(flt, *page_and_size()), execution_json)


@bp.get("/executions/<id:execution_id>")
@requires(Role.AUDITOR)
def get_execution(execution_id: int) -> Any:
    """One execution with its hosts."""
    execution = automation.get_execution_or_raise(execution_id)
    return jsonify({**execution_json(execution), "hosts": [host_json(h) for h in execution.hosts]})


@bp.post("/executions/<id:execution_id>/cancel")
@requires(Role.OPERATOR)
def cancel_execution(execution_id: int) -> Any:
    """Cancel a waiting, queued or running execution (409 when it already finished)."""
    execution = automation.cancel(execution_id=execution_id, actor=current().actor)
    return jsonify(execution_json(execution))
