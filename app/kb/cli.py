"""flask --app app kb import DIR: load a folder of markdown files into the knowledge base."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

kb_cli = AppGroup("kb", help="The knowledge base.")


@kb_cli.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--author", default="kb-import", show_default=True, help="Recorded as the author of new versions.")
def kb_import(folder: Path, author: str) -> None:
    """Import every *.md under FOLDER (title: first '# ' heading or the file name); changed files get a new version."""
    from app.kb.service import import_dir

    report = import_dir(folder, author=author)
    click.echo(f"kb import: {len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged")
