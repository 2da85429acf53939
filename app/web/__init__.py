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
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    admin.init_app(app)
    api.init_app(app)


def _favicon():  # type: ignore[no-untyped-def]
    """Browsers ask for /favicon.ico whatever the page says: the admin icon."""
    from flask import redirect, url_for

    return redirect(url_for("static", filename="favicon.svg"), code=301)
