"""/status from a real Prometheus scraping a real node_exporter (Debian's packages) on loopback ports."""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from app.automation.health import HostHealth, grade, parse_probe
from app.automation.models import ExecutionStatus
from app.automation.pool import POOL
from app.automation.prometheus import (
    PrometheusUnavailable,
    instance_regex,
    promql_string,
    query,
    regex_escape,
    selector,
)
from app.infra.db import db
from app.inventory.schema import Host
from tests.automation.conftest import OPS_CHAT, Bot, inventory_for
from tests.automation.helpers import latest_execution
from tests.automation.prom import PromStack, available, remove, start_prometheus
from tests.automation.sshd import SSHServer, free_port

DETAIL = re.compile(r"up [0-9dhm ]+ · load [0-9.]+/\d+ · cpu \d+% · mem \d+% · disk \d+%")
WILD = '.*"} or up{x="\\'  # regex and PromQL specials in an inventory value: must match nothing


@pytest.fixture(scope="session")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromStack]:
    if not available():
        pytest.fail("prometheus and prometheus-node-exporter are not installed (scripts/test.sh installs them)")
    stack = start_prometheus(tmp_path_factory.mktemp("prometheus"))
    try:
        yield stack
    finally:
        remove(stack)


@pytest.fixture(scope="session")
def prom_inventory(sshd: SSHServer, prom: PromStack) -> Path:
    inventory = inventory_for(sshd)
    ssh = {"address": "127.0.0.1", "port": sshd.port, "user": sshd.user, "key_file": str(sshd.client_key)}
    inventory["hosts"].update({
        "node-01": {**ssh, "prometheus_instance": prom.node_instance, "tags": ["prom"]},
        "ghost": {**ssh, "prometheus_instance": "10.255.0.99:9100", "tags": ["ghost"]},
        "wild": {**ssh, "prometheus_instance": WILD},
    })
    inventory["services"]["pg"] = {"hosts": ["node-01"], "unit": "postgresql.service"}
    path = sshd.workdir / "inventory-prometheus.yaml"
    path.write_text(yaml.safe_dump(inventory))
    return path


@pytest.fixture
def prom_bot(make_app: Callable[..., Flask], feishu_server: Any, sshd: SSHServer, prom: PromStack,
             prom_inventory: Path) -> Iterator[Bot]:
    feishu_server.add_chat(OPS_CHAT, members=("ou_alice", "ou_bob", "ou_dave"))
    application = make_app(OPENCLAW_CONFIG=str(prom_inventory), FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret",
                           FEISHU_BASE_URL=feishu_server.url, PROMETHEUS_URL=prom.url, PROMETHEUS_TIMEOUT="5")
    application.config.update(SSH_KNOWN_HOSTS=str(sshd.known_hosts), SSH_CONNECT_TIMEOUT=3, SSH_COMMAND_TIMEOUT=20,
                              EXECUTION_HEARTBEAT=0.2)
    sshd.clear_calls()
    with application.app_context():
        yield Bot(application)
        db.session.remove()
    POOL.close_all()


def content_of(card: dict[str, Any]) -> str:
    return "\n".join(e["content"] for e in card["body"]["elements"] if "content" in e)


def line_of(content: str, host: str) -> str:
    return next(line for line in content.splitlines() if f"**{host}**" in line)


def test_status_of_a_host_comes_from_prometheus_with_real_figures(prom_bot: Bot, sshd: SSHServer) -> None:
    reply = prom_bot.say("/status node-01", open_id="ou_erin")
    assert reply.card is not None
    content = content_of(reply.card)
    execution = latest_execution()
    assert execution.status is ExecutionStatus.SUCCEEDED
    [row] = execution.hosts
    assert (row.host, row.step_name, row.outcome) == ("node-01", "metrics", "ok")
    assert row.command == "prometheus health"
    health = HostHealth.from_json(json.loads(row.output))
    assert health.uptime_seconds > 0 and health.cpus >= 1 and min(health.load) >= 0
    assert health.cpu_percent is not None and 0 <= health.cpu_percent <= 100
    assert health.memory_percent is not None and 0 < health.memory_percent < 100
    assert health.disk_percent is not None and 0 <= health.disk_percent <= 100
    line = line_of(content, "node-01")
    assert DETAIL.search(line), line  # the same figures, formatted the same, as the SSH probe gives
    dot = {"green": "🟢", "amber": "🟠", "red": "🔴"}[grade(health)]
    assert line.startswith(dot)
    if max(health.load_percent, health.cpu_percent, health.memory_percent, health.disk_percent) < 90:
        assert dot in ("🟢", "🟠")
    assert "Figures from Prometheus" in content
    assert sshd.calls() == []


def test_status_of_one_host_carries_its_last_hour_as_a_png(prom_bot: Bot, feishu_server: Any) -> None:
    from tests.fakes.feishu_platform import png_size

    reply = prom_bot.say("/status node-01", open_id="ou_erin")
    assert reply.card is not None
    [image] = [e for e in reply.card["body"]["elements"] if e["tag"] == "img"]
    uploaded = feishu_server.images[image["img_key"]]
    assert png_size(uploaded.data) == (600, 240)
    several = prom_bot.say("/status prom", open_id="ou_erin")  # a tag, not one host: no picture
    assert several.card is not None and not [e for e in several.card["body"]["elements"] if e["tag"] == "img"]


def test_status_of_every_host_maps_addresses_and_reports_no_data(prom_bot: Bot) -> None:
    reply = prom_bot.say("/status")
    assert reply.card is not None
    content = content_of(reply.card)
    rows = {(row.host, row.step_name): row for row in latest_execution().hosts}
    # web-01/web-02 have address 127.0.0.1: node_exporter's instance 127.0.0.1:PORT is theirs
    for host in ("web-01", "web-02", "node-01"):
        assert rows[(host, "metrics")].outcome == "ok", host
        assert DETAIL.search(line_of(content, host))
    # a host Prometheus does not know: no data (no SSH fallback for it)
    assert rows[("ghost", "metrics")].outcome == "failed"
    assert "no data" in line_of(content, "ghost") and line_of(content, "ghost").startswith("🔴")
    # regex and PromQL specials in prometheus_instance are escaped: '.*' matches nothing
    assert rows[("wild", "metrics")].outcome == "failed" and "no data" in line_of(content, "wild")
    # the local host has no address: probed directly, as without Prometheus
    assert rows[("local", "probe")].outcome == "ok"
    assert DETAIL.search(line_of(content, "local"))
    # same machine, two sources: the figures agree (disk as df counts it, memory as MemAvailable)
    from_prometheus = HostHealth.from_json(json.loads(rows[("node-01", "metrics")].output))
    from_probe = parse_probe(rows[("local", "probe")].output)
    assert from_prometheus.disk_percent is not None and from_probe.disk_percent is not None
    assert abs(from_prometheus.disk_percent - from_probe.disk_percent) <= 2
    assert from_prometheus.memory_percent is not None and from_probe.memory_percent is not None
    assert abs(from_prometheus.memory_percent - from_probe.memory_percent) <= 5
    assert from_prometheus.cpus == from_probe.cpus


def test_unit_state_comes_from_the_systemd_collector_when_it_reports(prom_bot: Bot, sshd: SSHServer) -> None:
    reply = prom_bot.say("/status nginx")
    assert reply.card is not None
    content = content_of(reply.card)
    for host in ("web-01", "web-02"):
        assert "unit **active**" in line_of(content, host) and DETAIL.search(line_of(content, host))
    failed = content_of(prom_bot.say("/status pg").card or {})
    assert "unit **failed**" in failed and line_of(failed, "node-01").startswith("🔴")
    rows = [(row.host, row.step_name, row.outcome) for row in latest_execution().hosts]
    assert rows == [("node-01", "metrics", "ok"), ("node-01", "unit", "failed")]
    assert latest_execution().hosts[1].command == 'prometheus unit unit="postgresql.service"'
    assert sshd.calls() == []  # nothing asked over SSH


def test_unit_state_comes_over_ssh_without_the_systemd_collector(prom_bot: Bot, sshd: SSHServer) -> None:
    reply = prom_bot.say("/status broken")
    assert reply.card is not None
    content = content_of(reply.card)
    assert "unit **failed**" in content and line_of(content, "web-01").startswith("🔴")
    steps = [(row.host, row.step_name) for row in latest_execution().hosts]
    assert steps == [("web-01", "metrics"), ("web-01", "unit")]
    assert sshd.calls() == [["systemctl", "is-active", "broken.service"]]


def test_prometheus_down_falls_back_to_ssh_and_says_so(prom_bot: Bot, sshd: SSHServer) -> None:
    prom_bot.app.config["PROMETHEUS_URL"] = f"http://127.0.0.1:{free_port()}"
    reply = prom_bot.say("/status web")
    assert reply.card is not None
    content = content_of(reply.card)
    for host in ("web-01", "web-02"):
        assert DETAIL.search(line_of(content, host))
    assert "Prometheus unreachable" in content and "probed over SSH instead" in content
    assert "Figures from Prometheus" not in content
    execution = latest_execution()
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert sorted((row.host, row.step_name, row.outcome) for row in execution.hosts) == [
        ("(prometheus)", "source", "unreachable"), ("web-01", "probe", "ok"), ("web-02", "probe", "ok")]


def test_inventory_values_are_escaped_in_promql(prom: PromStack) -> None:
    assert regex_escape("10.0.0.1") == r"10\.0\.0\.1"
    assert promql_string('a"b\\c') == r'"a\"b\\c"'
    host = Host(address="127.0.0.1", port=22, prometheus_instance=WILD)
    regex = instance_regex(host)
    assert regex is not None and re.fullmatch(regex, WILD) and not re.fullmatch(regex, prom.node_instance)
    # Prometheus accepts the escaped selector and, like Python, matches only the literal value
    assert query(prom.url, f"up{{{selector([regex])}}}", 5) == []
    mapped = instance_regex(Host(address="127.0.0.1"))
    assert mapped is not None
    [(labels, value)] = query(prom.url, f"up{{{selector([mapped])}}}", 5)
    assert labels["instance"] == prom.node_instance and value == 1
    ipv6 = instance_regex(Host(address="::1"))
    assert ipv6 is not None and re.fullmatch(ipv6, "[::1]:9100") and not re.fullmatch(ipv6, "::10")


def test_a_prometheus_error_is_reported_not_parsed(prom: PromStack) -> None:
    with pytest.raises(PrometheusUnavailable, match="HTTP 400: .*parse error"):
        query(prom.url, "up{", 5)
    with pytest.raises(PrometheusUnavailable, match="unreachable"):
        query(f"http://127.0.0.1:{free_port()}", "up", 1)


def test_after_a_failure_prometheus_is_skipped_for_a_while(prom: PromStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.automation import prometheus
    from app.automation.sources import Query

    hosts = {"node-01": Host(address="127.0.0.1", prometheus_instance=prom.node_instance)}
    config = {"PROMETHEUS_URL": prom.url, "PROMETHEUS_TIMEOUT": 5}
    monkeypatch.setitem(prometheus._failures, prom.url, (time.monotonic() + 60, "unreachable (ConnectTimeout)"))
    skipped = prometheus.run(Query.of("prometheus", "health"), hosts, ("node-01",), config)
    assert skipped.results == [] and skipped.fallback_hosts == ("node-01",)
    assert skipped.note == "Prometheus unreachable (ConnectTimeout); probed over SSH instead"
    monkeypatch.setitem(prometheus._failures, prom.url, (time.monotonic() - 1, "old"))
    answered = prometheus.run(Query.of("prometheus", "health"), hosts, ("node-01",), config)
    assert [r.outcome for r in answered.results] == ["ok"] and answered.fallback_hosts == () and answered.note is None
