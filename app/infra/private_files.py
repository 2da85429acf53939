"""Embedded-mode files are owner-only: the SQLite database holds password and token hashes, payloads and
the audit log, and instance/ holds the generated SECRET_KEY.

Created owner-only when missing, and tightened at every start when an older version (or a umask of 022)
left them readable by others. A folder is only tightened when it is ours: one we created, or one named
instance; a database placed in a shared folder such as /tmp keeps that folder's mode.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

FILE_MODE = 0o600
FOLDER_MODE = 0o700
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def private_folder(folder: Path) -> Path:
    """Make folder (and parents) if missing; owner-only when we made it or it is an instance/ folder."""
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    if created or folder.name == "instance":
        _tighten(folder, FOLDER_MODE)
    return folder


def private_file(path: Path) -> None:
    """Create path empty and owner-only if missing (no window with a wider mode); tighten it otherwise."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    except FileExistsError:
        _tighten(path, FILE_MODE)


def secure_sqlite(database_path: Path) -> None:
    """The database file (created empty if missing: SQLite takes that as a new database) and its journals
    owner-only; SQLite gives the -wal and -shm files it creates later the database file's mode."""
    private_folder(database_path.parent)
    private_file(database_path)
    for suffix in SQLITE_COMPANIONS[1:]:
        companion = database_path.with_name(database_path.name + suffix)
        if companion.exists():
            _tighten(companion, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode:
        try:
            os.chmod(path, mode)
        except PermissionError:  # not ours to change (another owner): say so, do not stop
            logger.warning("cannot make a file owner-only", extra={"path": str(path), "mode": oct(current)})
            return
        logger.info("made a file owner-only", extra={"path": str(path), "was": oct(current)})
