"""A Prometheus alert's card carries a PNG of its expression, from a real Prometheus, uploaded to the image API."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.alerts import graph, notify
from app.alerts.models import NotifyState
from tests.alerts.conftest import alert_environ, all_alerts, am_alert, am_payload, cards_to, post_am
from tests.automation.prom import PromStack, available, remove, start_prometheus
from tests.fakes.feishu_platform import png_size


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromStack]:
    if not available():
        pytest.fail("prometheus and prometheus-node-exporter are not installed (scripts/test.sh installs them)")
    stack = start_prometheus(tmp_path_factory.mktemp("prometheus"))
    try:
        yield stack
    finally:
        remove(stack)


@pytest.fixture
def app(make_app: Callable[..., Flask], feishu_server: Any, prom: PromStack) -> Iterator[Flask]:
    feishu_server.add_chat("oc_ops", members=["ou_bob", "ou_alice"])
    application = make_app(**alert_environ(feishu_server.url, PROMETHEUS_URL=prom.url))
    with application.app_context():
        yield application


def prom_alert(prom: PromStack, expr: str = "node_load1") -> dict[str, Any]:
    alert = am_alert("HighLoad", severity="warning")
    alert["generatorURL"] = f"{prom.url}/graph?g0.expr={expr}&g0.tab=1"
    return alert


def images_in(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in card["body"]["elements"] if e.get("tag") == "img"]


def test_the_card_carries_the_graph_uploaded_as_a_real_png(
    app: Flask, client: Any, drain: Any, feishu_server: Any, prom: PromStack,
) -> None:
    post_am(client, am_payload(prom_alert(prom)))
    drain()
    [card] = cards_to(feishu_server)
    [image] = images_in(card.content)
    uploaded = feishu_server.images[image["img_key"]]
    assert (uploaded.width, uploaded.height, uploaded.image_type) == (600, 240, "message")
    elements = card.content["body"]["elements"]
    assert elements.index(image) < next(i for i, e in enumerate(elements) if e["tag"] == "column_set")
    [upload] = feishu_server.requests_to("/open-apis/im/v1/images")
    assert upload.headers["content-type"].startswith("multipart/form-data")


def test_the_graph_is_cached_per_alert_and_redrawn_on_a_refresh_once_stale(
    app: Flask, client: Any, drain: Any, feishu_server: Any, prom: PromStack,
) -> None:
    post_am(client, am_payload(prom_alert(prom)))
    drain()
    alert = all_alerts()[0]
    first = images_in(cards_to(feishu_server)[0].content)[0]["img_key"]
    assert graph.image_key(alert) == first  # cached: no new upload
    assert graph.image_key(alert, refresh=True) == first  # fresh enough
    assert len(feishu_server.images) == 1
    later = time.time() + app.config["ALERT_GRAPH_REFRESH"] + 1
    redrawn = graph.image_key(alert, refresh=True, now=later)
    assert redrawn is not None and redrawn != first and len(feishu_server.images) == 2
    assert notify.refresh(alert.id)
    [card] = cards_to(feishu_server)
    assert images_in(card.updates[-1])[0]["img_key"] == redrawn


def test_no_graph_when_prometheus_is_down_but_the_card_still_goes_out(
    make_app: Callable[..., Flask], feishu_server: Any, prom: PromStack, redis_client: Any,
) -> None:
    from tests.automation.sshd import free_port

    feishu_server.add_chat("oc_ops", members=["ou_bob"])
    app = make_app(**alert_environ(feishu_server.url, PROMETHEUS_URL=f"http://127.0.0.1:{free_port()}"))
    with app.app_context():
        from rq import SimpleWorker

        from app.infra.handoff import drain_all
        from app.infra import queue as queue_module

        post_am(app.test_client(), am_payload(prom_alert(prom)))
        queue_module._worker_app = app
        drain_all(app)
        SimpleWorker(list(app.extensions[queue_module.EXTENSION].queues.values()),
                     connection=redis_client).work(burst=True, with_scheduler=False)
        [card] = cards_to(feishu_server)
        assert images_in(card.content) == []
        assert all_alerts()[0].notify_state == NotifyState.SENT


def test_a_generic_alert_has_no_expression_and_no_graph() -> None:
    class Row:
        generator_url = None

    assert graph.expression_of(Row()) is None  # type: ignore[arg-type]


def test_render_png_draws_several_series(tmp_path: Path) -> None:
    now = time.time()
    series = [(f"instance=web-0{i}", [(now - 60 * k, float(i + k % 7)) for k in range(60, -1, -1)]) for i in range(3)]
    png = graph.render_png(series, "node_load1")
    assert png_size(png) == (600, 240)
