"""Response times: MTTA, MTTR and incident time to close over the last weeks, as charts and tables."""
from __future__ import annotations

from flask import abort, render_template, request

from app import localtime
from app.infra.db import utcnow
from app.inventory.schema import Role
from app.reports import response
from app.reports.response import Figure
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.admin.charts import lines_chart

PERIODS = {"4": "4 weeks", "8": "8 weeks", "26": "26 weeks"}


def minutes(value: float | None) -> float | None:
    return None if value is None else round(value / 60, 1)


@bp.route("/response")
@requires(Role.USER)
def response_times() -> str:
    """MTTA/MTTR per week (charts) and per service, severity and team (tables), ?weeks=4|8|26."""
    weeks = request.args.get("weeks", "8")
    if weeks not in PERIODS:
        abort(400, description="weeks must be 4, 8 or 26")
    figures = response.last_weeks(int(weeks), now=utcnow())
    labels = [w.key for w in figures.weeks]

    def series(pick: str) -> list[tuple[str, str, list[float | None]]]:
        figs: list[Figure] = [getattr(w, pick) for w in figures.weeks]
        return [(f"{pick.upper()} p50", "line-p50", [minutes(f.as_dict()["p50"]) for f in figs]),
                (f"{pick.upper()} p90", "line-p90", [minutes(f.as_dict()["p90"]) for f in figs])]

    return render_template(
        "admin/response.html", weeks=weeks, periods=PERIODS, figures=figures, minutes=minutes,
        zone=localtime.zone().key, mtta_chart=lines_chart(labels, series("mtta"), "min"),
        mttr_chart=lines_chart(labels, series("mttr"), "min"),
    )
