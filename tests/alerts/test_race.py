"""Several processes at once: the database folds concurrent repeats, claims keep notifications single."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from flask import Flask

from app.alerts.models import NotifyState
from app.alerts.tasks import notify_alerts, tick
from app.infra.db import db
from app.infra.queue import enqueue
from tests.alerts.conftest import alert_environ, all_alerts, am_alert, am_payload, cards_to, post_am
from tests.conftest import base_environ

ROOT = Path(__file__).resolve().parents[2]


def test_concurrent_repeats_fold_into_one_open_alert(app: Flask, feishu_server: Any) -> None:
    payload = am_payload(am_alert(), am_alert("DiskFull", severity="warning"))
    answers: list[dict[str, int]] = []
    barrier = threading.Barrier(6)

    def sender() -> None:
        client = app.test_client()
        barrier.wait()
        for _ in range(5):
            answers.append(post_am(client, payload).json)

    threads = [threading.Thread(target=sender) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 30
    assert sum(a["new"] for a in answers) == 2 and sum(a["repeats"] for a in answers) == 58
    tick()  # folds the repeats counted in Redis into the rows
    assert sorted(a.count for a in all_alerts()) == [30, 30]


def test_two_worker_processes_racing_notify_each_alert_once(app: Flask, client: Any, pg_url: str,
                                                            feishu_server: Any) -> None:
    alerts = [am_alert(f"Race{i}", severity="warning", fingerprint=f"{i:016x}") for i in range(4)]
    post_am(client, am_payload(*alerts))  # queues one notify job
    ids = [a.id for a in all_alerts()]
    for _ in range(3):  # duplicates, as after a redelivery or a sweep overlapping a slow worker
        enqueue(notify_alerts, ids)
    env = {**os.environ, **base_environ(pg_url, **alert_environ(feishu_server.url)), "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "flask", "--app", "app", "worker", "--burst", "--no-scheduler"]
    workers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()[-2000:]
    db.session.remove()
    cards = cards_to(feishu_server)
    titles = Counter(c.content["header"]["title"]["content"] for c in cards)
    assert titles == Counter({f"[FIRING] Race{i} on web-01": 1 for i in range(4)})
    assert {a.notify_state for a in all_alerts()} == {NotifyState.SENT}
