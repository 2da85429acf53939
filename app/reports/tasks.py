"""Report jobs: keep the response-time gauges current; post the weekly report once per chat and week."""
from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import localtime
from app.feishu.wiring import get_client
from app.infra import metrics
from app.infra.db import db, utcnow
from app.infra.lanes import Lane
from app.infra.queue import job
from app.infra.scheduler import Periodic
from app.inventory import get_inventory
from app.reports import response, weekly
from app.reports.cards import weekly_card
from app.reports.models import ReportPost

logger = logging.getLogger(__name__)

GAUGE_WINDOW = timedelta(days=7)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_ATTEMPTS = 10


@job("default", timeout=120, lane=Lane.BULK)
def update_response_gauges() -> int:
    """Set openclaw_response_seconds from the last 7 days (rolling), overall and per severity."""
    now = utcnow()
    figures = response.compute(now - GAUGE_WINDOW, now)
    groups = [("all", figures.overall), *((g.key, g) for g in figures.by_severity)]
    for severity, group in groups:
        for measure in ("mtta", "mttr", "incidents"):
            values = getattr(group, measure).as_dict()
            for quantile in ("p50", "p90"):
                gauge = metrics.RESPONSE_SECONDS.labels(measure=measure, severity=severity, quantile=quantile[1:])
                gauge.set(values[quantile] if values[quantile] is not None else float("nan"))
    return len(groups)


def due_at(now: datetime) -> datetime:
    """When this local week's report is due: the configured weekday and time, in UTC."""
    config = get_inventory().reports.weekly
    hour, minute = (int(part) for part in config.time.split(":"))
    day = localtime.local(localtime.week_start(now)) + timedelta(days=WEEKDAYS.index(config.weekday))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=localtime.zone()).astimezone(UTC)


def report_link(week: str) -> str:
    return f"{current_app.config['PUBLIC_URL']}/admin/reports/{week}"


@job("default", timeout=300, lane=Lane.BULK)
def post_weekly_reports(now_ts: float | None = None) -> int:
    """Once the week's due time has passed, send last week's report to each configured chat, once.

    A row per (week, chat) claims the post; the Feishu uuid is derived from it, so a send
    that succeeded but was not recorded is deduplicated by Feishu when the tick repeats it.
    """
    now = datetime.fromtimestamp(now_ts, localtime.zone()) if now_ts is not None else utcnow()
    chats = get_inventory().reports.weekly.chats
    if not chats or now < due_at(now):
        return 0
    start = weekly.previous_week_start(now)
    week = localtime.week_label(start)
    for chat_id in chats:
        try:
            db.session.add(ReportPost(week=week, chat_id=chat_id))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
    pending = db.session.execute(select(ReportPost).where(
        ReportPost.week == week, ReportPost.message_id.is_(None), ReportPost.attempts < MAX_ATTEMPTS)).scalars().all()
    if not pending:
        return 0
    report = weekly.build(start)
    image_key = upload_chart(report)
    sent = 0
    for post in pending:
        db.session.execute(update(ReportPost).where(ReportPost.id == post.id).values(attempts=ReportPost.attempts + 1))
        db.session.commit()
        uuid = hashlib.sha256(f"weekly-report:{week}:{post.chat_id}".encode()).hexdigest()[:50]
        try:
            message_id = get_client().send_card(post.chat_id, weekly_card(report, link=report_link(week),
                                                                          image_key=image_key), uuid=uuid)
        except Exception:
            logger.exception("weekly report not sent; the next tick retries", extra={"chat_id": post.chat_id})
            continue
        post.message_id, post.image_key, post.sent_at = message_id, image_key, utcnow()
        db.session.commit()
        sent += 1
    return sent


def upload_chart(report: weekly.WeeklyReport) -> str | None:
    """The report's PNG uploaded to Feishu; None (and a card without it) when that fails."""
    from app.reports.chart import report_png

    try:
        return get_client().upload_image(report_png(report), filename=f"report-{report.week}.png")
    except Exception:
        logger.warning("report chart not uploaded; sending the card without it", exc_info=True)
        return None


PERIODIC = (
    Periodic("response_gauges", lambda app: 60, update_response_gauges),
    Periodic("weekly_report", lambda app: 300, post_weekly_reports),
)
