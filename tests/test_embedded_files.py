"""Embedded mode keeps its files owner-only: instance/ 0700, the SQLite database and secret_key 0600."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import INVENTORY, ROOT


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def flask(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, started as a person would with a common umask of 022, in embedded mode."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SECRET_KEY", "DATABASE_URL")}
    env.update({"OPENCLAW_CONFIG": str(INVENTORY), "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"})
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=120, preexec_fn=lambda: os.umask(0o022))


def test_a_first_start_creates_instance_and_the_database_owner_only(tmp_path: Path) -> None:
    result = flask(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    instance = tmp_path / "instance"
    assert mode(instance) == 0o700
    assert mode(instance / "openclaw.db") == 0o600
    assert mode(instance / "secret_key") == 0o600
    assert (instance / "openclaw.db").stat().st_size > 0  # migrated, not just created
    for companion in instance.glob("openclaw.db-*"):
        assert mode(companion) == 0o600, companion


def test_files_an_older_version_left_world_readable_are_tightened_at_start(tmp_path: Path) -> None:
    assert flask(tmp_path, "db", "upgrade").returncode == 0
    instance = tmp_path / "instance"
    os.chmod(instance, 0o755)
    os.chmod(instance / "openclaw.db", 0o644)
    os.chmod(instance / "secret_key", 0o644)
    result = flask(tmp_path, "users", "sync")
    assert result.returncode == 0, result.stderr
    assert (mode(instance), mode(instance / "openclaw.db"), mode(instance / "secret_key")) == (0o700, 0o600, 0o600)


def test_a_database_in_a_shared_folder_leaves_that_folder_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    env_db = f"sqlite:///{shared}/openclaw.db"
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=tmp_path,
                            env={**{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SECRET_KEY")},
                                 "DATABASE_URL": env_db, "OPENCLAW_CONFIG": str(INVENTORY), "PYTHONPATH": str(ROOT)},
                            text=True, capture_output=True, timeout=120, preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr
    assert mode(shared) == 0o755
    assert mode(shared / "openclaw.db") == 0o600
