"""The defaults a fresh clone runs with, shared by scripts/run.sh and every `flask --app app` command.

- The inventory: config/openclaw.yaml, else the example (with a one-line notice on stderr),
  in embedded mode only: a production process with a missing inventory must stop, not run the example.
- instance/secret_key: generated once beside the SQLite file (64 random characters, mode 600).
- instance/alert_webhook_token: generated once by scripts/run.sh so a test alert can be posted.

`python -m app.local_defaults` prints shell assignments for scripts/run.sh, so the
shell script and the CLI cannot drift apart.
"""
from __future__ import annotations

import os
import secrets
import shlex
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from app.errors import ConfigError

INVENTORY = "config/openclaw.yaml"
EXAMPLE_INVENTORY = "config/openclaw.example.yaml"
DATABASE_URL = "sqlite:///instance/openclaw.db"


def inventory_path(environ: Mapping[str, str], *, embedded: bool) -> tuple[str, str | None]:
    """The inventory file to load and, when it is the example standing in for a missing one, a notice."""
    explicit = (environ.get("OPENCLAW_CONFIG") or "").strip()
    if explicit:
        return explicit, None
    if embedded and not Path(INVENTORY).exists() and Path(EXAMPLE_INVENTORY).exists():
        return EXAMPLE_INVENTORY, f"{INVENTORY} not found: using the example inventory ({EXAMPLE_INVENTORY})"
    return INVENTORY, None


def instance_folder(database_url: str) -> Path:
    """The folder beside the SQLite file (instance/ for the default and in-memory databases)."""
    db_path = database_url.removeprefix("sqlite:///")
    if not database_url.startswith("sqlite:///") or not db_path or db_path == ":memory:":
        return Path("instance")
    return Path(db_path).parent


def generated_secret(path: Path) -> tuple[str, bool]:
    """The secret kept in path, made once (64 URL-safe random characters, mode 600); True when made now.

    Written to a temporary file and linked into place, so a process starting at the same
    moment reads either nothing or the whole secret, and both end up with the same one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
            os.link(tmp, path)
            made = True
        except FileExistsError:
            made = False
        finally:
            os.unlink(tmp)
    else:
        made = False
    value = path.read_text().strip()
    if len(value) < 32:
        raise ConfigError(f"{path}: (file): shorter than 32 characters; delete it and a new one is generated")
    return value, made


def shell_assignments(environ: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Shell lines for scripts/run.sh (`export NAME=value`, and alert_token_shell for its curl example)
    and the notices to show; embedded mode is assumed."""
    lines: list[str] = []
    notices: list[str] = []
    path, notice = inventory_path(environ, embedded=True)
    lines.append(f"export OPENCLAW_CONFIG={shlex.quote(path)}")
    if notice:
        notices.append(notice)
    folder = instance_folder(environ.get("DATABASE_URL") or DATABASE_URL)
    if not (environ.get("SECRET_KEY") or "").strip():
        _, made = generated_secret(folder / "secret_key")
        if made:
            notices.append(f"generated {folder / 'secret_key'}")
    if (environ.get("ALERT_WEBHOOK_TOKEN") or "").strip():
        lines.append("alert_token_shell='$ALERT_WEBHOOK_TOKEN'")
    else:
        token_file = folder / "alert_webhook_token"
        token, made = generated_secret(token_file)
        lines.append(f"export ALERT_WEBHOOK_TOKEN={shlex.quote(token)}")
        # How the printed curl example reads the token (never the token itself on the terminal).
        lines.append("alert_token_shell=" + shlex.quote(f"$(cat {shlex.quote(str(token_file))})"))
        if made:
            notices.append(f"generated {token_file} (the bearer token of the alert webhooks)")
    return lines, notices


def main() -> None:
    lines, notices = shell_assignments(os.environ)
    for notice in notices:
        print(f"[run.sh] {notice}", file=sys.stderr)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
