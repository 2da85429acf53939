"""The AI gateway: OpenAI- and Ollama-compatible endpoints in front of the team's models, metered and governed."""
from __future__ import annotations

from flask import Flask

from app.inventory import get_inventory


def init_app(app: Flask) -> None:
    """Resolve the model routes (a bad `models:` stops the start) and register the endpoints."""
    from app.gateway import catalog, routes

    from app.inventory import EXTENSION as INVENTORY

    if app.extensions.get(INVENTORY) is not None:  # flask CLI commands read the inventory on first use only
        with app.app_context():
            catalog.init_app(app, get_inventory())
    app.register_blueprint(routes.bp)
