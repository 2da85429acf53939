"""Weekly reports: the full report of any week, with its chart (the card links here)."""
from __future__ import annotations

from flask import Response, abort, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from app import localtime
from app.infra.db import utcnow
from app.inventory.schema import Role
from app.reports import weekly
from app.reports.cards import figure_line, seconds
from app.web.admin import bp
from app.web.admin.auth import requires


def _start(week: str):  # type: ignore[no-untyped-def]
    try:
        start = localtime.parse_week(week)
    except ValueError as exc:
        abort(400, description=str(exc))
    if start > utcnow():
        abort(404, description=f"{week} has not started yet")
    return start


@bp.route("/reports")
@requires(Role.USER)
def reports() -> BaseResponse:
    """The last complete week's report."""
    return redirect(url_for("admin.report", week=localtime.week_label(weekly.previous_week_start(utcnow()))))


@bp.route("/reports/<week>")
@requires(Role.USER)
def report(week: str) -> str:
    """One week's report in full."""
    built = weekly.build(_start(week))
    before = localtime.week_label(weekly.previous_week_start(built.start + (built.end - built.start) / 2))
    after = localtime.week_label(built.end) if built.end <= utcnow() else None
    return render_template("admin/report.html", report=built, figure_line=figure_line, seconds=seconds,
                           before=before, after=after, zone=localtime.zone().key)


@bp.route("/reports/<week>/chart.png")
@requires(Role.USER)
def report_chart(week: str) -> Response:
    """The report's chart, as posted with the card."""
    from app.reports.chart import report_png

    return Response(report_png(weekly.build(_start(week))), mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=300"})
