"""Pure functions that build Feishu card JSON 2.0 for executions: approval, progress, result, status."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.automation.models import ExecutionStatus
from app.feishu.markdown import code_safe, escape

EXCERPT_CHARS = 1500
MAX_HOST_ROWS = 30

_COLOURS = {
    ExecutionStatus.QUEUED: "blue", ExecutionStatus.AWAITING_APPROVAL: "orange", ExecutionStatus.RUNNING: "blue",
    ExecutionStatus.SUCCEEDED: "green", ExecutionStatus.FAILED: "red", ExecutionStatus.CANCELLED: "grey",
    ExecutionStatus.INTERRUPTED: "carmine", ExecutionStatus.REJECTED: "grey", ExecutionStatus.EXPIRED: "grey",
}
_MARK = {"ok": "✅", "failed": "❌", "timeout": "⏱", "cancelled": "⏹", "unreachable": "⚠️", "refused": "⛔"}
_DOT = {"green": "🟢", "amber": "🟠", "red": "🔴"}


@dataclass(frozen=True)
class HostLine:
    """One host's result in one step, as a card shows it."""

    step: str
    host: str
    outcome: str
    exit_code: int | None
    output: str
    error: str | None = None


@dataclass(frozen=True)
class ExecutionView:
    """What the cards need to know about an execution (built from the model by the caller)."""

    id: int
    kind: str
    target: str
    status: str
    requested_by: str
    steps: tuple[str, ...]
    approver: str | None = None
    summary: str | None = None
    expires_at: str | None = None
    duration_ms: int | None = None
    facts: tuple[tuple[str, str], ...] = ()  # what exactly: (("App", "shop-api"), ("Environment", "prod"), ...)
    version: str | None = None

    @property
    def headline(self) -> str:
        """The target with its version, so no card leaves out what is being deployed."""
        return f"{self.target} {self.version}" if self.version else self.target


def code_block(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A fenced block of the last `limit` characters of text (fences inside are defused)."""
    text = text.rstrip()
    if len(text) > limit:
        text = "…" + text[-limit:]
    return "```\n" + code_safe(text.replace("```", "'''")) + "\n```"


def _card(title: str, template: str, elements: list[dict[str, Any]], summary: str) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "config": {"update_multi": True, "summary": {"content": summary[:100]}},
        "header": {"title": {"tag": "plain_text", "content": title[:100]}, "template": template},
        "body": {"direction": "vertical", "elements": elements},
    }


def _markdown(content: str) -> dict[str, Any]:
    return {"tag": "markdown", "content": content}


def _button(label: str, kind: str, value: dict[str, Any], confirm: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "tag": "button", "text": {"tag": "plain_text", "content": label}, "type": kind,
        "behaviors": [{"type": "callback", "value": value}],
    }
    if confirm:
        button["confirm"] = {"title": {"tag": "plain_text", "content": label},
                             "text": {"tag": "plain_text", "content": confirm}}
    return button


def _buttons(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"tag": "column_set", "flex_mode": "none", "columns": [
        {"tag": "column", "width": "auto", "elements": [button]} for button in buttons
    ]}


def _note(text: str) -> dict[str, Any]:
    return {"tag": "div", "text": {"tag": "plain_text", "content": text, "text_size": "notation",
                                   "text_color": "grey"}}


def _facts(view: ExecutionView) -> list[dict[str, Any]]:
    if not view.facts:
        return []
    return [_markdown(" · ".join(f"**{escape(name)}** {escape(value)}" for name, value in view.facts))]


def _steps_block(steps: Sequence[str]) -> dict[str, Any]:
    return _markdown("**What will run**\n" + code_block("\n".join(steps), limit=4000))


def approval_card(view: ExecutionView, requester_name: str) -> dict[str, Any]:
    """Asks a second person to approve: exactly what will run, who asked, until when; Approve / Reject."""
    value = {"execution_id": view.id}
    elements = [
        _markdown(f"**{escape(view.headline)}** requested by **{escape(requester_name)}** (#{view.id})"),
        *_facts(view),
        _steps_block(view.steps),
        _note(f"Expires {view.expires_at or 'soon'}. The requester cannot approve their own request."),
        _buttons(
            _button("Approve", "primary_filled", {"action": "deploy.approve", **value},
                    confirm=f"Run {view.headline} now?"),
            _button("Reject", "danger", {"action": "deploy.reject", **value}),
        ),
    ]
    return _card(f"Approval needed: {view.headline}", "orange", elements, f"Approval needed: {view.headline}")


def progress_card(view: ExecutionView, lines: Sequence[HostLine], *, requester_name: str = "") -> dict[str, Any]:
    """Step-by-step progress (or the final result) with failure excerpts; Cancel while it can still stop."""
    status = ExecutionStatus(view.status)
    by = f" by {escape(requester_name)}" if requester_name else ""
    approved = f", approved by {escape(view.approver)}" if view.approver else ""
    elements: list[dict[str, Any]] = [
        _markdown(f"#{view.id} **{escape(view.headline)}**{by}{approved}: **{status}**"), *_facts(view)]
    step_rows = []
    marked_running = False
    for step in view.steps:
        name = step.split(" on ", 1)[0]
        hosts = [line for line in lines if line.step == name]
        if hosts:
            marks = " ".join(f"{_MARK.get(h.outcome, '•')} {escape(h.host)}" for h in hosts[:MAX_HOST_ROWS])
            step_rows.append(f"**{escape(name)}**  {marks}")
        elif status is ExecutionStatus.RUNNING and not marked_running:
            step_rows.append(f"**{escape(name)}**  ⏳ running")
            marked_running = True
        else:
            step_rows.append(f"**{escape(name)}**  ·")
    if step_rows:
        elements.append(_markdown("\n".join(step_rows)))
    for line in [h for h in lines if h.outcome != "ok"][:3]:
        detail = line.error or (f"exit {line.exit_code}" if line.exit_code is not None else line.outcome)
        elements.append(_markdown(f"**{escape(line.host)}** {escape(line.step)}: {escape(detail)}\n"
                                  + code_block(line.output or "(no output)")))
    if view.summary and status.finished:
        elements.append(_note(view.summary))
    if not status.finished:
        elements.append(_buttons(_button("Cancel", "danger", {"action": "execution.cancel", "execution_id": view.id},
                                         confirm=f"Stop #{view.id}?")))
    elif view.duration_ms is not None:
        elements.append(_note(f"took {view.duration_ms / 1000:.1f}s"))
    title = f"{view.headline}: {status}"
    return _card(title, _COLOURS.get(status, "blue"), elements, title)


@dataclass(frozen=True)
class StatusRow:
    """One host in the /status card."""

    host: str
    grade: str
    detail: str
    unit: str | None = None


def status_card(title: str, rows: Sequence[StatusRow], note: str | None = None) -> dict[str, Any]:
    """Compact health: a coloured dot per host with uptime, load, CPU, memory and disk; a source note below."""
    worst = "red" if any(r.grade == "red" for r in rows) else "amber" if any(r.grade == "amber" for r in rows) \
        else "green"
    lines = []
    for row in rows[:MAX_HOST_ROWS]:
        unit = f" · unit **{escape(row.unit)}**" if row.unit else ""
        lines.append(f"{_DOT.get(row.grade, '⚪')} **{escape(row.host)}** {escape(row.detail)}{unit}")
    if len(rows) > MAX_HOST_ROWS:
        lines.append(f"… and {len(rows) - MAX_HOST_ROWS} more hosts")
    colour = {"green": "green", "amber": "orange", "red": "red"}[worst]
    elements = [_markdown("\n".join(lines) or "no hosts")]
    if note:
        elements.append(_markdown(f"<font color='grey'>{escape(note)}</font>"))
    return _card(f"Status: {title}", colour, elements, f"Status: {title}")
