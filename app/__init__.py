"""OpenClaw: a Feishu-first ChatOps bot. create_app() is the one place things are wired."""
from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask

from app.config import load_config


def create_app(environ: Mapping[str, str] | None = None, *, inventory=None) -> Flask:  # type: ignore[no-untyped-def]
    """Build a configured app; tests pass their own environ (and may pass a parsed inventory)."""
    from app import cli, inventory as inventory_module, web
    from app.chat import registry
    from app.feishu import wiring
    from app.infra import init_app as init_infra
    from app.infra.logging import configure_logging
    from app.web.errors import register_error_handlers

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config(os.environ if environ is None else environ))
    configure_logging(app)
    inventory_module.init_app(app, inventory)
    init_infra(app)
    wiring.init_app(app)
    registry.load_commands()
    web.register_blueprints(app)
    register_error_handlers(app)
    cli.register(app)
    return app
