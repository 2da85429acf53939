"""/restart and /status on 10 hosts (10 sshd on loopback): the time the bot adds around the remote commands.

    .venv/bin/python scripts/bench/commands.py [--hosts 10] [--runs 30]

Each run sends the command through the router (IncomingMessage -> route() ->
dispatch -> engine -> SSH -> reply card), timing event in -> reply out. Time
inside SSH is, per step, the longest remote command (exec request to exit
status) across the hosts run in parallel; what is left is the bot's own cost:
policy, validation, audit, database rows, connection setup, threads, card.
Runs with a warm connection pool (reuse) and with a new connection per command.
Uses an embedded-mode SQLite database in a scratch folder (no Redis needed).
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.automation import engine  # noqa: E402
from app.automation.pool import POOL  # noqa: E402
from app.chat.router import route  # noqa: E402
from app.chat.types import IncomingMessage  # noqa: E402
from app.infra.db import db  # noqa: E402
from tests.automation.sshd import SSHServer, keygen, remove_workdir, start_sshd  # noqa: E402

BENCH_SECRET_KEY = "bench-only-7f3c9a1e5d2b8f6a4c0e9d7b3a1f5e8c"  # long enough for load_config outside embedded mode


class SSHClock:
    """Wraps engine.run_parallel to add up, per step, the longest remote command time."""

    def __init__(self) -> None:
        self.remote = 0.0
        self._original = engine.run_parallel

    def __enter__(self) -> SSHClock:
        def timed(*args: Any, **kwargs: Any) -> Any:
            results = self._original(*args, **kwargs)
            self.remote += max((r.remote_seconds for r in results), default=0.0)
            return results

        engine.run_parallel = timed  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        engine.run_parallel = self._original  # type: ignore[assignment]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def build_inventory(servers: list[SSHServer]) -> dict[str, Any]:
    hosts = {
        f"h{i:02d}": {"address": "127.0.0.1", "port": s.port, "user": s.user, "key_file": str(s.client_key),
                      "tags": ["bench"]}
        for i, s in enumerate(servers, start=1)
    }
    return {
        "users": [{"open_id": "ou_bench", "name": "Bench", "role": "operator"}],
        "hosts": hosts,
        "services": {"web": {"hosts": list(hosts), "unit": "web.service"}},
    }


def run(app: Any, text: str, runs: int, *, reuse: bool) -> dict[str, list[float]]:
    app.config["SSH_REUSE"] = reuse
    POOL.close_all()
    totals, remote, overhead = [], [], []
    for index in range(runs + 2):
        message = IncomingMessage(event_id=f"bench-{time.monotonic_ns()}", message_id=f"om_{index}", chat_id="console",
                                  chat_type="p2p", open_id="ou_bench", text=text, mentioned_bot=True, source="console")
        with SSHClock() as clock:
            started = time.perf_counter()
            replies = route(message)
            elapsed = time.perf_counter() - started
        assert replies and replies[0].card is not None, replies
        if index < 2:
            continue  # warm-up (fills the pool when reusing)
        totals.append(elapsed)
        remote.append(clock.remote)
        overhead.append(elapsed - clock.remote)
    return {"total": totals, "ssh": remote, "overhead": overhead}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30)
    options = parser.parse_args()
    logging.disable(logging.INFO)

    workdir = Path(tempfile.mkdtemp(prefix="openclaw-bench-"))
    workdir.chmod(0o755)
    client_key = keygen(workdir / "id_ed25519")
    servers = [start_sshd(workdir / f"sshd{i}", client_key=client_key) for i in range(options.hosts)]
    try:
        known_hosts = workdir / "known_hosts"
        known_hosts.write_text("".join(s.known_hosts.read_text() for s in servers))
        inventory = workdir / "inventory.yaml"
        inventory.write_text(yaml.safe_dump(build_inventory(servers)))
        app = create_app({"DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}", "OPENCLAW_CONFIG": str(inventory),
                          "SECRET_KEY": BENCH_SECRET_KEY, "LOG_LEVEL": "WARNING"})
        app.config.update(SSH_KNOWN_HOSTS=str(known_hosts), SSH_PARALLEL=options.hosts)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            print(f"{options.hosts} hosts, {options.runs} runs each (after 2 warm-up runs); seconds")
            print(f"{'command':<14}{'reuse':<7}{'total p50':>10}{'p99':>8}{'ssh p50':>9}"
                  f"{'bot p50':>9}{'bot p99':>9}")
            for text in ("/status web", "/restart web"):
                for reuse in (True, False):
                    figures = run(app, text, options.runs, reuse=reuse)
                    print(f"{text:<14}{'yes' if reuse else 'no':<7}"
                          f"{statistics.median(figures['total']):>10.3f}{percentile(figures['total'], 99):>8.3f}"
                          f"{statistics.median(figures['ssh']):>9.3f}"
                          f"{statistics.median(figures['overhead']):>9.3f}{percentile(figures['overhead'], 99):>9.3f}")
            db.session.remove()
    finally:
        POOL.close_all()
        for server in servers:
            remove_workdir(server)
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
