"""Bitable export against the fake Bitable: a first full export, a run with nothing changed, a run with changes.

    .venv/bin/python scripts/bench/bitable.py [--alerts 5000] [--open 500]

Uses an embedded-mode SQLite database in a scratch folder and tests/fakes/bitable_server.py
on loopback (no network). Prints, per run, seconds, records created/updated, and the
Bitable calls made. The fake answers at once, so the figures are OpenClaw's own cost plus
loopback HTTP; against Feishu add its latency per call (calls / 10 per second at most).
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.alerts.models import Alert  # noqa: E402
from app.exports.tasks import export_to_bitable  # noqa: E402
from app.infra.db import db  # noqa: E402
from tests.conftest import INVENTORY  # noqa: E402
from tests.exports.test_bitable import BASE, COLUMNS, TABLES  # noqa: E402
from tests.fakes.bitable_server import FakeBitableServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--open", type=int, default=500, help="alerts left firing (re-checked every run)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    server = FakeBitableServer().start()
    server.add_table(BASE, TABLES["alerts"], COLUMNS["alerts"])
    with tempfile.TemporaryDirectory() as folder:
        inventory = yaml.safe_load(INVENTORY.read_text())
        inventory["exports"] = {"bitable": {"app_token": BASE, "tables": {"alerts": TABLES["alerts"]}}}
        path = Path(folder) / "inventory.yaml"
        path.write_text(yaml.safe_dump(inventory))
        app = create_app({"DATABASE_URL": f"sqlite:///{folder}/openclaw.db", "OPENCLAW_CONFIG": str(path),
                          "FEISHU_APP_ID": "cli_test", "FEISHU_APP_SECRET": "secret", "FEISHU_BASE_URL": server.url,
                          "LOG_LEVEL": "WARNING"})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            now = datetime(2026, 12, 1, tzinfo=UTC)
            db.session.add_all(Alert(
                fingerprint=f"fp{n}", open_key=f"fp{n}" if n < args.open else None, source="bench",
                alertname=f"Alert{n % 40}", severity="warning", status="firing" if n < args.open else "resolved",
                service="nginx", host=f"web-{n % 20:02d}", summary=f"alert {n}", starts_at=now, created_at=now,
                last_seen=now, resolved_at=None if n < args.open else now) for n in range(args.alerts))
            db.session.commit()
            open_ids = [a.id for a in db.session.query(Alert).filter(Alert.status == "firing").limit(50)]

            def run(label: str) -> None:
                calls = len(server.requests)
                started = time.perf_counter()
                outcome = export_to_bitable()["alerts"]
                elapsed = time.perf_counter() - started
                print(f"{label:<28} {elapsed:6.2f} s  created {outcome['created']:>5}  updated "
                      f"{outcome['updated']:>4}  unchanged {outcome['unchanged']:>4}  "
                      f"calls {len(server.requests) - calls - (1 if label.startswith('first') else 0)}")

            run(f"first export ({args.alerts})")
            run("nothing changed")
            for alert in db.session.query(Alert).filter(Alert.id.in_(open_ids)):
                alert.count += 1
            db.session.commit()
            run(f"{len(open_ids)} open alerts changed")
            print(f"records in the table: {len(server.rows(BASE, TABLES['alerts']))}")
            db.session.remove()
            db.engine.dispose()
    server.stop()


if __name__ == "__main__":
    main()
