"""People before bulk: bulk sends leave part of the shared limits to replies (issue 17)."""
from __future__ import annotations

import threading
import time

import redis

from app.feishu.client import FeishuClient
from app.feishu.throttle import APP_RATE, APP_RESERVE, Throttle
from app.infra import lanes
from app.infra.queue import _registry
from tests.fakes.feishu_server import FakeFeishuServer


def test_bulk_lane_takes_only_its_share_of_the_app_window(feishu_redis: redis.Redis) -> None:
    throttle = Throttle(feishu_redis)
    with lanes.bulk():
        granted = [throttle.reserve("app:cli_lane", lanes.share(APP_RATE, APP_RESERVE)) for _ in range(APP_RATE)]
    assert granted.count(0.0) == APP_RATE - APP_RESERVE
    # The window looks full to bulk work but a person's reply still passes at once.
    assert throttle.reserve("app:cli_lane", lanes.share(APP_RATE, APP_RESERVE)) == 0.0


def test_reply_is_not_held_up_by_a_bulk_flood(feishu_server: FakeFeishuServer, feishu_redis: redis.Redis) -> None:
    client = FeishuClient(feishu_server.url, "cli_test", "secret", redis=feishu_redis)
    client.tenant_access_token()
    stop = threading.Event()
    sent = [0]

    def flood(worker: int) -> None:
        with lanes.bulk():
            n = 0
            while not stop.is_set():
                client.send_text(f"oc_storm_{worker}_{n % 40}", "storm summary")
                sent[0] += 1
                n += 1

    threads = [threading.Thread(target=flood, args=(w,), daemon=True) for w in range(6)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)  # the bulk senders now keep the app window at their share
        waits = []
        for n in range(5):
            started = time.perf_counter()
            client.send_text(f"oc_person_{n}", "your answer")
            waits.append(time.perf_counter() - started)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert sent[0] >= APP_RATE - APP_RESERVE  # the flood really filled its share
    assert max(waits) < 0.25, waits  # without lanes a reply waits ~1 s for a slot


def test_alert_jobs_run_in_the_bulk_lane_and_event_jobs_do_not() -> None:
    import app.alerts.tasks  # noqa: F401 - registers the jobs
    import app.inbox.tasks  # noqa: F401

    assert _registry["app.alerts.tasks.notify_alerts"].lane is lanes.Lane.BULK
    assert _registry["app.alerts.tasks.tick_alerts"].lane is lanes.Lane.BULK
    assert _registry["app.inbox.tasks.process_event"].lane is lanes.Lane.INTERACTIVE
