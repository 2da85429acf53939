"""Flask glue only: blueprints parse requests, call services and render."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from app.web import alert_webhooks, health, observe, webhooks

    observe.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(alert_webhooks.bp)
    from app.web import admin, api, converters

    converters.register(app)
    admin.init_app(app)
    api.init_app(app)
