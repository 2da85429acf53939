"""Pure builders for the weekly report: the Feishu card (JSON 2.0) and its plain-text form."""
from __future__ import annotations

from typing import Any

from app.alerts.cards import escape
from app.durations import format_duration
from app.reports.response import Figure
from app.reports.weekly import WeeklyReport


def seconds(value: float | None) -> str:
    """A duration as people read it (1h30m), "-" for none."""
    return "-" if value is None else format_duration(max(1, int(round(value))))


def figure_line(figure: Figure) -> str:
    stats = figure.as_dict()
    if not stats["count"]:
        return "no data" + (f" ({stats['open']} open)" if stats["open"] else "")
    text = f"p50 {seconds(stats['p50'])} · p90 {seconds(stats['p90'])} ({stats['count']}"
    return text + (f", {stats['open']} open)" if stats["open"] else ")")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{escape(k)} {v}" for k, v in counts.items()) or "none"


def report_lines(report: WeeklyReport) -> list[str]:
    """The report as markdown lines (card body; also the console's text)."""
    now = report.this_week
    lines = [
        f"**Alerts** {report.alerts} ({_counts(report.alerts_by_severity)})",
        f"**By service** {_counts(dict(list(report.alerts_by_service.items())[:6]))}",
        "**Noisiest** " + ("; ".join(f"{escape(a)} ×{n}" for a, n in report.noisiest) or "none"),
        f"**MTTA** {figure_line(now.mtta)}",
        f"**MTTR** {figure_line(now.mttr)}",
    ]
    earlier = [w for w in report.history[:-1] if w.mtta.durations or w.mttr.durations]
    if earlier:
        trend = " · ".join(f"{w.key}: {seconds(w.mtta.as_dict()['p50'])} / {seconds(w.mttr.as_dict()['p50'])}"
                           for w in earlier)
        lines.append(f"**Earlier weeks (MTTA / MTTR p50)** {trend}")
    incidents = "; ".join(f"{i.ref} {escape(i.title)} ({i.severity}, {i.status})" for i in report.incidents[:8])
    lines.append(f"**Incidents** {len(report.incidents)}" + (f": {incidents}" if incidents else ""))
    deploys = "; ".join(f"{escape(c.target)} {escape(c.detail)} {c.status}" for c in report.deploys[:8])
    lines.append(f"**Deployments** {len(report.deploys)} ({_counts(report.outcomes(report.deploys))})"
                 + (f": {deploys}" if deploys else ""))
    lines.append(f"**Runbook runs** {len(report.runbooks)} ({_counts(report.outcomes(report.runbooks))})")
    lines.append(f"**Model use** {report.model_calls} calls ({report.model_failed} failed), "
                 f"{report.input_tokens} tokens in / {report.output_tokens} out"
                 + (f"; {_counts(report.tokens_by_model)}" if report.tokens_by_model else ""))
    return lines


def weekly_card(report: WeeklyReport, *, link: str, image_key: str | None = None) -> dict[str, Any]:
    """The report card: figures, an optional chart image, and a button to the full page."""
    title = f"Weekly ops report {report.week}"
    elements: list[dict[str, Any]] = [{"tag": "markdown", "content": "\n".join(report_lines(report))}]
    if image_key:
        elements.append({"tag": "img", "img_key": image_key, "alt": {"tag": "plain_text", "content": "alerts per day"},
                         "scale_type": "fit_horizontal"})
    elements.append({"tag": "button", "text": {"tag": "plain_text", "content": "Full report"}, "type": "default",
                     "behaviors": [{"type": "open_url", "default_url": link}]})
    return {
        "schema": "2.0",
        "config": {"update_multi": True, "width_mode": "fill", "summary": {"content": title}},
        "header": {"title": {"tag": "plain_text", "content": title},
                   "subtitle": {"tag": "plain_text", "content": f"{report.start:%Y-%m-%d} + 7 days"},
                   "template": "blue"},
        "body": {"direction": "vertical", "elements": elements},
    }
