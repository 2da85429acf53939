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
            app = _build(os.environ, inventory, lazy_inventory=_from_flask_cli())
        except ConfigError as exc:
            sys.stderr.write(f"openclaw: configuration error:\n{exc}\n")
            raise SystemExit(2) from None
        if app.config.get("OPENCLAW_CONFIG_NOTICE"):
            sys.stderr.write(f"openclaw: {app.config['OPENCLAW_CONFIG_NOTICE']}\n")
        return app
    return _build(environ, inventory)


def _from_flask_cli() -> bool:
    """True inside a `flask --app app ...` command: the inventory is then read by the commands that use it."""
    import click

    return click.get_current_context(silent=True) is not None


def _build(environ: Mapping[str, str], inventory,  # type: ignore[no-untyped-def]
           *, lazy_inventory: bool = False) -> Flask:
    from app import cli, gateway, inventory as inventory_module, posture, web
    from app.chat import registry
    from app.feishu import wiring
    from app.infra import init_app as init_infra
    from app.infra.logging import configure_logging
    from app.monitoring import selfmon
    from app.web.errors import register_error_handlers
    from app import worker  # noqa: F401 - registers every job, so this process can run or queue any of them

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config(environ))
    configure_logging(app, to_stderr=lazy_inventory)
    posture.log_warnings(app.config)
    inventory_module.init_app(app, inventory, lazy=lazy_inventory)
    from app.feishu import custom_bot

    custom_bot.init_app(app, app.extensions[inventory_module.EXTENSION], environ, str(app.config["OPENCLAW_CONFIG"]))
    init_infra(app)
    selfmon.init_app(app)
    wiring.init_app(app)
    registry.load_commands()
    web.register_blueprints(app)
    gateway.init_app(app)
    register_error_handlers(app)
    cli.register(app)
    return app
