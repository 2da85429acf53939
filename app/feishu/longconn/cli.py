"""flask --app app feishu connect: the long-connection process."""
from __future__ import annotations

import signal
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

feishu_cli = AppGroup("feishu", help="Feishu transports.")


@feishu_cli.command("connect")
@with_appcontext
def connect() -> None:
    """Keep a long connection to the Open Platform and feed its events into the inbox."""
    from app.feishu.longconn.endpoint import ConnectError
    from app.feishu.longconn.runner import build

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["FEISHU_TRANSPORT"] != "longconn":
        click.echo("FEISHU_TRANSPORT is webhook: events arrive on POST /webhook/feishu; no connector needed.")
        return
    if not app.config.get("FEISHU_APP_ID"):
        raise click.ClickException("FEISHU_APP_ID and FEISHU_APP_SECRET are needed for the long connection")
    connector = build(app)

    def stop(signum: int, frame: Any) -> None:
        connector.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        connector.run()
    except ConnectError as exc:
        click.echo(f"feishu connect: {exc.reason}", err=True)
        sys.exit(1)
