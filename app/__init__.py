"""OpenClaw: a Feishu-first ChatOps bot. create_app() is the one place things are wired."""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from flask import Flask

from app.config import load_config
from app.errors import ConfigError


def create_app(environ: Mapping[str, str] | None = None, *, inventory=None) -> Flask:  # type: ignore[no-untyped-def]
    """Build a configured app; tests pass their own environ (and may pass a parsed inventory).

    Started from the real environment (gunicorn, flask CLI), a configuration error
    ends the process with the file, key and reason on stderr and no traceback.
    """
    if environ is None:
        try:
            return _build(os.environ, inventory)
        except ConfigError as exc:
            sys.stderr.write(f"openclaw: configuration error:\n{exc}\n")
            raise SystemExit(2) from None
    return _build(environ, inventory)


def _build(environ: Mapping[str, str], inventory) -> Flask:  # type: ignore[no-untyped-def]
    from app import cli, inventory as inventory_module, web
    from app.chat import registry
    from app.feishu import wiring
    from app.infra import init_app as init_infra
    from app.infra.logging import configure_logging
    from app.web.errors import register_error_handlers

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config(environ))
    configure_logging(app)
    inventory_module.init_app(app, inventory)
    from app.feishu import custom_bot

    custom_bot.init_app(app, app.extensions[inventory_module.EXTENSION], environ, str(app.config["OPENCLAW_CONFIG"]))
    init_infra(app)
    wiring.init_app(app)
    registry.load_commands()
    web.register_blueprints(app)
    register_error_handlers(app)
    cli.register(app)
    return app
