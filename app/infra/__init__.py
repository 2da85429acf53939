"""Plumbing with no business rules: database, Redis, jobs, logging, metrics."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Wire the plumbing in dependency order."""
    from app.infra import db, queue, redis

    db.init_app(app)
    redis.init_app(app)
    queue.init_app(app)
