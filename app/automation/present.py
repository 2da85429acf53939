"""Executions as people see them: card views, host lines, /status rows and /logs text."""
from __future__ import annotations

import json
from typing import Any

from app import localtime
from app.automation import cards
from app.automation.health import HostHealth, format_uptime, grade, parse_probe
from app.automation.models import Execution, ExecutionHost
from app.automation.plans import Plan
from app.users.service import display_name

LOG_TEXT_MAX = 12000


def view_of(execution: Execution, plan: Plan | None) -> cards.ExecutionView:
    """The card view of an execution; plan gives the step lines (None when it cannot be rebuilt)."""
    expires = localtime.fmt(execution.expires_at) if execution.expires_at else None
    return cards.ExecutionView(
        id=execution.id, kind=str(execution.kind), target=execution.target, status=str(execution.status),
        requested_by=execution.requested_by, steps=tuple(plan.describe()) if plan else (),
        approver=display_name(execution.approver) if execution.approver else None, summary=execution.summary,
        expires_at=expires, duration_ms=execution.duration_ms, facts=facts_of(execution),
        version=(execution.args or {}).get("version") if str(execution.kind) == "deploy" else None,
    )


def facts_of(execution: Execution) -> tuple[tuple[str, str], ...]:
    """What a deploy is about (app, environment, version, approver) for every card of it."""
    if str(execution.kind) != "deploy":
        return ()
    args = execution.args or {}
    facts = [("App", str(args.get("app") or "?")), ("Environment", str(args.get("env") or "?")),
             ("Version", str(args.get("version") or "none given (the steps run without one)"))]
    if execution.approver:
        facts.append(("Approved by", display_name(execution.approver)))
    return tuple(facts)


def host_lines(execution: Execution) -> list[cards.HostLine]:
    """Every host result of the execution, oldest first."""
    return [
        cards.HostLine(step=row.step_name, host=row.host, outcome=row.outcome, exit_code=row.exit_code,
                       output=row.output, error=row.error)
        for row in execution.hosts
    ]


def approval_card(execution: Execution, plan: Plan) -> dict[str, Any]:
    """The approval card for a waiting execution."""
    return cards.approval_card(view_of(execution, plan), display_name(execution.requested_by))


def progress_card(execution: Execution, plan: Plan | None) -> dict[str, Any]:
    """The progress (or final result) card for an execution."""
    return cards.progress_card(view_of(execution, plan), host_lines(execution),
                               requester_name=display_name(execution.requested_by))


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}%"


def _detail(health: HostHealth) -> str:
    return (f"up {format_uptime(health.uptime_seconds)} · load {health.load[0]:.2f}/{health.cpus} · "
            f"cpu {_pct(health.cpu_percent)} · mem {_pct(health.memory_percent)} · disk {_pct(health.disk_percent)}")


def _health_of(row: ExecutionHost) -> HostHealth:
    if row.step_name == "metrics":
        return HostHealth.from_json(json.loads(row.output))
    return parse_probe(row.output)


def status_rows(execution: Execution) -> list[cards.StatusRow]:
    """One row per probed host: its grade and figures, and its unit state for a service."""
    units = {row.host: row.output.strip() or row.outcome for row in execution.hosts if row.step_name == "unit"}
    rows = []
    for row in execution.hosts:
        if row.step_name not in ("probe", "metrics"):
            continue
        health: HostHealth | None = None
        detail = row.error or row.outcome
        if row.outcome == "ok":
            try:
                health = _health_of(row)
                detail = _detail(health)
            except (ValueError, KeyError, IndexError, StopIteration, AttributeError, TypeError):
                detail = "probe output not understood"
        colour = grade(health)
        unit = units.get(row.host)
        if unit is not None and unit != "active":  # a failed unit is red whatever the figures say
            colour = "red"
        rows.append(cards.StatusRow(row.host, colour, detail, unit))
    return rows


def status_note(execution: Execution) -> str | None:
    """Where the figures came from when not (only) over SSH, and why a source was skipped."""
    notes = list(dict.fromkeys(row.error for row in execution.hosts if row.step_name == "source" and row.error))
    if any(row.step_name == "metrics" for row in execution.hosts):
        notes.insert(0, "Figures from Prometheus (node_exporter).")
    return " ".join(notes) or None


def logs_text(execution: Execution) -> str:
    """The log lines per host under a header line each, already redacted, capped for chat."""
    parts = []
    for row in execution.hosts:
        where = "Elasticsearch" if row.host == "(elasticsearch)" else row.host
        header = f"== {where} ({execution.target})"
        if row.outcome != "ok":
            header += f": {row.error or row.outcome}"
        parts.append(header + "\n" + (row.output.rstrip() or "(no lines)"))
    text = "\n\n".join(parts) or "(no hosts)"
    if len(text) > LOG_TEXT_MAX:
        text = "…" + text[-LOG_TEXT_MAX:]
    return text


def host_row_summary(rows: list[ExecutionHost]) -> str:
    """'web-01 ok, web-02 failed (exit 1)'."""
    return ", ".join(
        f"{row.host} {row.outcome}" + (f" (exit {row.exit_code})" if row.exit_code not in (None, 0) else "")
        for row in rows
    )


def queued_text(execution: Execution) -> str:
    """The chat answer for a queued execution, true also when the job queue was down."""
    if execution.status.finished:
        return f"#{execution.id} {execution.target} is {execution.status}."
    if execution.queue_unreachable:
        return (f"#{execution.id} {execution.target} is queued; the job queue is unreachable, so it will start"
                f" when the queue is back. /cancel {execution.id} stops it.")
    return f"#{execution.id} {execution.target} queued; a progress card follows. /cancel {execution.id} stops it."
