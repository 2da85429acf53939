"""/report [week]: the weekly ops report as a card (last complete week unless one is named)."""
from __future__ import annotations

from app import localtime
from app.chat.args import Args, Param
from app.chat.registry import command
from app.chat.types import CommandContext, Reply
from app.errors import UsageError
from app.infra.db import utcnow
from app.reports import weekly
from app.reports.cards import weekly_card
from app.reports.tasks import report_link, upload_chart


@command("report", usage="/report [week, e.g. 2026-W49]", params=(Param("week", required=False),))
def report(ctx: CommandContext, args: Args) -> Reply:
    """The weekly ops report: alerts, MTTA/MTTR, incidents, deployments, model usage."""
    now = utcnow()
    label = args.get("week")
    if label:
        try:
            start = localtime.parse_week(label)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if start > now:
            raise UsageError(f"{label} has not started yet")
    else:
        start = weekly.previous_week_start(now)
    built = weekly.build(start)
    return Reply.of_card(weekly_card(built, link=report_link(built.week), image_key=upload_chart(built)))
