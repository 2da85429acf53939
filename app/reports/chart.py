"""The weekly report's picture: alerts per day and MTTA/MTTR p50 per week, as a small PNG.

matplotlib (Agg, no display) is imported on first use only: it costs ~30 MB and a few
hundred milliseconds, which no web or job process should pay at start.
"""
from __future__ import annotations

import io

from app.reports.weekly import WeeklyReport


def report_png(report: WeeklyReport) -> bytes:
    """A 2-panel PNG (about 800x300): bars of alerts per day; lines of MTTA/MTTR p50 in minutes per week."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3), dpi=100)
    days, weeks = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    labels = [label.split()[0] for label, _ in report.alerts_per_day]
    positions = list(range(len(labels)))  # positions, not strings: matplotlib would guess dates from "Mon"
    days.bar(positions, [n for _, n in report.alerts_per_day], color="#2f6fdb")
    days.set_xticks(positions, labels)
    days.set_title(f"Alerts per day, {report.week}", fontsize=10)
    days.tick_params(labelsize=8)
    keys = [w.key.split("-")[-1] for w in report.history]
    for measure, colour in (("mtta", "#2f6fdb"), ("mttr", "#d98c1a")):
        values = [getattr(w, measure).as_dict()["p50"] for w in report.history]
        weeks.plot(range(len(keys)), [v / 60 if v is not None else float("nan") for v in values], marker="o",
                   color=colour, label=f"{measure.upper()} p50")
    weeks.set_xticks(range(len(keys)), keys)
    weeks.set_title("Minutes to ack / resolve", fontsize=10)
    weeks.tick_params(labelsize=8)
    weeks.legend(fontsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
