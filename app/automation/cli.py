"""flask --app app automation pause|resume|status: the kill switch from a shell."""
from __future__ import annotations

import click
from flask.cli import AppGroup

automation_cli = AppGroup("automation", help="The automation engine: kill switch.")

CLI_ACTOR = "cli"


@automation_cli.command("pause")
@click.option("--reason", default=None, help="Why, shown to people whose actions are refused.")
@click.option("--as", "actor", default=CLI_ACTOR, show_default=True, help="Who is pausing (for the audit log).")
def pause(reason: str | None, actor: str) -> None:
    """Refuse all mutating actions (restart, deploy, run) until resumed."""
    from app.automation import service

    service.pause(actor=actor, reason=reason)
    click.echo("automation paused: mutating actions are refused")


@automation_cli.command("resume")
@click.option("--as", "actor", default=CLI_ACTOR, show_default=True, help="Who is resuming (for the audit log).")
def resume(actor: str) -> None:
    """Allow mutating actions again."""
    from app.automation import service

    service.resume(actor=actor)
    click.echo("automation resumed")


@automation_cli.command("status")
def status() -> None:
    """Say whether automation is paused."""
    from app.automation import policy

    state = policy.pause_state()
    if state is None:
        click.echo("automation running")
    else:
        reason = f" ({state['reason']})" if state.get("reason") else ""
        click.echo(f"automation paused by {state.get('by')} at {state.get('at')}{reason}")
