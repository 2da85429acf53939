"""The hash-pinned locks agree with the hand-edited requirements files (scripts/lock.sh makes them)."""
from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)
HINT = "run scripts/lock.sh and commit requirements.lock and requirements-test.lock"


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def pins(path: Path) -> dict[str, str]:
    """name -> version for every `name==version` line (following -r includes)."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        include = re.match(r"^-r\s+(\S+)", line)
        if include:
            found.update(pins(path.parent / include.group(1)))
        match = _PIN.match(line)
        if match:
            found[_name(match.group(1))] = match.group(2)
    return found


def test_every_direct_pin_is_in_the_lock_at_the_same_version() -> None:
    for source, lock in (("requirements.txt", "requirements.lock"), ("requirements-test.txt", "requirements-test.lock")):
        wanted, locked = pins(ROOT / source), pins(ROOT / lock)
        stale = {name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version}
        assert not stale, f"{lock} is out of date for {stale} (wanted, locked): {HINT}"


def test_the_test_lock_pins_the_runtime_tree_the_same_way() -> None:
    runtime, test = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-test.lock")
    assert {name: test.get(name) for name in runtime} == runtime, HINT


def test_every_locked_package_carries_hashes() -> None:
    for lock in ("requirements.lock", "requirements-test.lock"):
        entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
        packages = [entry for entry in entries if _PIN.match(entry)]
        assert packages and all("--hash=sha256:" in entry for entry in packages), lock
