"""flask --app app feishu connect: the long-connection process."""
from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

feishu_cli = AppGroup("feishu", help="Feishu transports.")


@feishu_cli.command("connect")
@with_appcontext
@click.option("--idle-if-webhook", is_flag=True,
              help="With FEISHU_TRANSPORT=webhook, wait for SIGTERM instead of exiting (for supervisors that restart exits).")
def connect(idle_if_webhook: bool) -> None:
    """Keep a long connection to the Open Platform and feed its events into the inbox."""
    from app.feishu.longconn.endpoint import ConnectError
    from app.feishu.longconn.runner import build

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["FEISHU_TRANSPORT"] != "longconn":
        click.echo("FEISHU_TRANSPORT is webhook: events arrive on POST /webhook/feishu; no connector needed.")
        if idle_if_webhook:
            done = threading.Event()
            signal.signal(signal.SIGTERM, lambda signum, frame: done.set())
            signal.signal(signal.SIGINT, lambda signum, frame: done.set())
            done.wait()
        return
    if not app.config.get("FEISHU_APP_ID"):
        raise click.ClickException("FEISHU_APP_ID and FEISHU_APP_SECRET are needed for the long connection")
    connector = build(app)

    def stop(signum: int, frame: Any) -> None:
        connector.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        connector.run()
    except ConnectError as exc:
        click.echo(f"feishu connect: {exc.reason}", err=True)
        sys.exit(1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
