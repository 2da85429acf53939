"""Pure builders of the alert card and the storm summary card (Feishu card JSON 2.0)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app import localtime
from app.alerts.enrich import Context
from app.alerts.models import Alert
from app.alerts.types import AlertStatus
from app.feishu.markdown import escape, link

_COLOURS = {"critical": "red", "warning": "orange", "info": "blue"}
MAX_LISTED = 40


@dataclass(frozen=True)
class CardView:
    """Everything a card shows beyond the alert row: inventory context, links, notes."""

    context: Context
    public_url: str
    notes: tuple[str, ...] = ()
    occurrence: int = 1


def colour(alert: Alert) -> str:
    """Green when resolved, grey-blue when acknowledged, else by severity."""
    if alert.status == AlertStatus.RESOLVED:
        return "green"
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return "wathet"
    return _COLOURS.get(str(alert.severity), "blue")


def _when(value: datetime | None) -> str:
    return localtime.fmt(value, seconds=True)


def _at(open_ids: Sequence[str]) -> str:
    return " ".join(f"<at id={oid}></at>" for oid in open_ids) or "-"


def _button(text: str, value: dict[str, Any] | None = None, *, kind: str = "default",
            url: str | None = None, confirm: str | None = None) -> dict[str, Any]:
    behaviour = {"type": "open_url", "default_url": url} if url else {"type": "callback", "value": value}
    button: dict[str, Any] = {"tag": "button", "text": {"tag": "plain_text", "content": text}, "type": kind,
                              "size": "small", "behaviors": [behaviour]}
    if confirm:
        button["confirm"] = {"title": {"tag": "plain_text", "content": text},
                             "text": {"tag": "plain_text", "content": confirm}}
    return button


def _buttons(alert: Alert, view: CardView) -> dict[str, Any]:
    ref = {"alert_id": alert.id}
    buttons = []
    if alert.status == AlertStatus.FIRING:
        buttons.append(_button("Acknowledge", {"action": "alert.ack", **ref}, kind="primary_filled"))
    if alert.status != AlertStatus.RESOLVED:
        buttons.append(_button("Silence 1h", {"action": "alert.silence", "duration": "1h", **ref}))
        buttons.append(_button("Resolve", {"action": "alert.resolve", **ref}, kind="danger",
                               confirm="Close this alert by hand?"))
    if alert.host:
        buttons.append(_button("Host status", {"action": "alert.host", **ref}))
    buttons.append(_button("Open in admin", url=f"{view.public_url}/admin/alerts/{alert.id}"))
    return {"tag": "column_set", "flex_mode": "flow", "horizontal_spacing": "small",
            "columns": [{"tag": "column", "width": "auto", "elements": [b]} for b in buttons]}


def _facts(alert: Alert, view: CardView) -> str:
    ctx = view.context
    what = escape(alert.alertname) + (f" = {escape(alert.value)}" if alert.value else "")
    where = escape(alert.host or "-") + (f" ({escape(', '.join(ctx.host_tags))})" if ctx.host_tags else "")
    if ctx.service:
        where += f" · service {escape(ctx.service)}"
    lines = [
        f"**What** {what}",
        f"**Where** {where}",
        f"**Since** {_when(alert.starts_at)}",
        f"**Count** {alert.count} (last {_when(alert.last_seen)})"
        + (f" · occurrence #{view.occurrence}" if view.occurrence > 1 else ""),
        f"**Owners** {_at(ctx.owners)}",
    ]
    if ctx.oncall:
        lines.append(f"**On call** {_at([ctx.oncall.now])} ({escape(ctx.oncall.schedule)}; next {_at([ctx.oncall.next])})")
    if ctx.runbook or ctx.runbook_url:
        # Both links come from the alert sender: http(s) only, anything else shows as plain words.
        lines.append(f"**Runbook** {link(ctx.runbook or 'runbook', ctx.runbook_url)}")
    lines.append(f"**Source** {link(alert.source, alert.generator_url)}")
    return "\n".join(lines)


def _state_line(alert: Alert) -> str | None:
    if alert.status == AlertStatus.RESOLVED:
        by = f" by <at id={alert.resolved_by}></at>" if alert.resolved_by else ""
        return f"✅ **Resolved**{by} at {_when(alert.resolved_at)}"
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return f"👤 **Acknowledged** by <at id={alert.acked_by}></at> at {_when(alert.acked_at)}"
    return None


def alert_card(alert: Alert, view: CardView) -> dict[str, Any]:
    """The card for one alert, coloured by severity and state, with its buttons."""
    state = str(alert.status).upper()
    elements: list[dict[str, Any]] = []
    if alert.summary:
        elements.append({"tag": "markdown", "content": escape(alert.summary, starts_line=True)})
    elements.append({"tag": "markdown", "content": _facts(alert, view)})
    notes = [line for line in (_state_line(alert), *view.notes) if line]
    if notes:
        elements.append({"tag": "markdown", "content": "\n".join(notes)})
    elements.append(_buttons(alert, view))
    elements.append({"tag": "div", "text": {"tag": "plain_text", "content": f"alert #{alert.id} · {alert.fingerprint}",
                                            "text_size": "notation", "text_color": "grey"}})
    return {
        "schema": "2.0",
        "config": {"update_multi": True, "width_mode": "fill",
                   "summary": {"content": f"[{state}] {alert.title}"}},
        "header": {
            "title": {"tag": "plain_text", "content": f"[{state}] {alert.title}"},
            "subtitle": {"tag": "plain_text", "content": f"{alert.severity} · {alert.source}"},
            "template": colour(alert),
            "text_tag_list": [{"tag": "text_tag", "text": {"tag": "plain_text", "content": str(alert.severity)},
                               "color": _COLOURS.get(str(alert.severity), "blue")}],
        },
        "body": {"direction": "vertical", "elements": elements},
    }


def summary_card(alerts: Sequence[Alert], *, public_url: str, storm_size: int | None = None,
                 since: datetime | None = None, individual: int = 0) -> dict[str, Any]:
    """One card listing a storm of alerts for one chat (instead of one message each), updated as it grows.

    storm_size counts the storm's alerts including the `individual` ones that got cards of their own.
    """
    firing = [a for a in alerts if a.status != AlertStatus.RESOLVED]
    worst = min((a for a in firing), key=lambda a: {"critical": 0, "warning": 1}.get(str(a.severity), 2), default=None)
    template = "green" if worst is None else _COLOURS.get(str(worst.severity), "blue")
    lines = []
    for alert in list(alerts)[:MAX_LISTED]:
        mark = {"resolved": "✅", "acknowledged": "👤"}.get(str(alert.status), "🔥")
        lines.append(f"{mark} #{alert.id} **{escape(alert.title)}** · {alert.severity} · ×{alert.count}"
                     f" · [open]({public_url}/admin/alerts/{alert.id})")
    if len(alerts) > MAX_LISTED:
        lines.append(f"… and {len(alerts) - MAX_LISTED} more")
    size = storm_size if storm_size is not None else len(alerts)
    started = f" since {since.strftime('%H:%M:%S')} UTC" if since else ""
    title = f"Alert storm: {size} alerts{started} ({len(firing)} open here)"
    earlier = f"The first {individual} have cards of their own above; " if individual else ""
    return {
        "schema": "2.0",
        "config": {"update_multi": True, "width_mode": "fill", "summary": {"content": title}},
        "header": {"title": {"tag": "plain_text", "content": title}, "template": template},
        "body": {"direction": "vertical", "elements": [
            {"tag": "markdown", "content": "\n".join(lines)},
            {"tag": "div", "text": {"tag": "plain_text", "text_size": "notation", "text_color": "grey",
                                    "content": f"{earlier}this card lists the rest and grows with the storm. "
                                               "Use /alert ack ID or /alert list to act on single alerts."}},
        ]},
    }
