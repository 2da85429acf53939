"""deploy/prometheus/rules.yml: promtool check and unit tests, completeness, and a live Prometheus."""
from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from flask import Flask
from werkzeug.serving import make_server

from app.ai import metering
from app.ai.client import ChatResult, LLMClient
from app.infra import metrics
from tests.automation.sshd import free_port
from tests.conftest import ROOT

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
UNIT_TESTS = ROOT / "deploy" / "prometheus" / "tests.yml"
RUNBOOK = ROOT / "deploy" / "prometheus" / "RUNBOOK.md"

needs_promtool = pytest.mark.skipif(not Path(PROMTOOL).is_file(), reason="promtool (Debian package prometheus) missing")


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    done = subprocess.run([PROMTOOL, "test", "rules", str(UNIT_TESTS)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_case_that_fires_and_one_that_stays_quiet() -> None:
    cases = [case for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    for rule in rules():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{rule['alert']} never fires in tests.yml"
        assert any(not case["exp_alerts"] for case in mine), f"{rule['alert']} is never shown quiet in tests.yml"


def test_every_alert_is_documented_and_labelled() -> None:
    anchors = {line[3:].strip().lower() for line in RUNBOOK.read_text().splitlines() if line.startswith("## ")}
    for rule in rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]
        assert rule["annotations"]["runbook_url"].split("#")[1] in anchors, rule["alert"]
        # An alert without `for` must be one that a single sample proves (an increase over a window).
        assert "for" in rule or "increase(" in rule["expr"], rule["alert"]


def test_every_series_the_rules_use_is_one_openclaw_defines() -> None:
    defined = {name for collector in metrics.registry()._collector_to_names.values() for name in collector}
    used = {name for rule in rules() for name in re.findall(r"\b(openclaw_[a-z_]+)", rule["expr"])}
    assert used and used <= defined, used - defined


# -- a live Prometheus scraping a live app ----------------------------------------------------


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The test app on a real HTTP port (same process, so the test can drive its metrics)."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


def _get(url: str, path: str, **params: str) -> Any:
    return requests.get(f"{url}{path}", params=params, timeout=5).json()["data"]


@pytest.mark.skipif(not Path(PROMETHEUS).is_file(), reason="prometheus (Debian package) missing")
def test_a_live_prometheus_evaluates_the_rules_against_the_app(served: str, tmp_path: Path) -> None:
    model = f"live-{free_port()}"
    for child in (metrics.MODEL_DURATION.labels(model=model, upstream=model),):  # the bot labels its route
        child.observe(0.1)  # the series exists (one fast call) before Prometheus first scrapes it
    dead = f"127.0.0.1:{free_port()}"
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "openclaw-web", "static_configs": [{"targets": [served]}]},
                           {"job_name": "openclaw-worker", "static_configs": [{"targets": [dead]}]}],
    }))
    prom = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=(tmp_path / "prom.log").open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _get(url, "/api/v1/query", query=f'openclaw_model_call_duration_seconds_count{{model="{model}"}}')
              ["result"], prom, tmp_path)
        time.sleep(1.5)  # a second sample of the fast call
        llm = LLMClient(provider="ollama", base_url="http://127.0.0.1:9", model=model)
        for _ in range(6):
            metering.record(llm, metering.CallMeta("req", None, None), ChatResult(duration_ms=6500), slow_ms=3000)

        def firing() -> list[dict[str, Any]]:
            return [a for a in _get(url, "/api/v1/alerts")["alerts"]
                    if a["labels"]["alertname"] == "OpenClawSlowModelCalls" and a["labels"].get("model") == model]

        [alert] = _wait(firing, prom, tmp_path)
        assert alert["state"] == "firing"
        groups = _get(url, "/api/v1/rules")["groups"]
        evaluated = {r["name"]: r for g in groups for r in g["rules"]}
        assert set(evaluated) == {rule["alert"] for rule in rules()}
        assert all(r["health"] == "ok" for r in evaluated.values()), [r.get("lastError") for r in evaluated.values()]
        # The dead worker target is what OpenClawTargetDown watches (pending: it has `for: 2m`).
        target_down = _wait(lambda: [a for a in _get(url, "/api/v1/alerts")["alerts"]
                                     if a["labels"]["alertname"] == "OpenClawTargetDown"], prom, tmp_path)
        assert target_down[0]["labels"]["instance"] == dead and target_down[0]["state"] == "pending"
        assert not [a for a in _get(url, "/api/v1/alerts")["alerts"]
                    if a["labels"].get("instance") == served and a["labels"]["alertname"] == "OpenClawTargetDown"]
    finally:
        prom.terminate()
        prom.wait(timeout=15)


def _wait(probe: Any, prom: subprocess.Popen[bytes], workdir: Path, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if prom.poll() is not None:
            raise AssertionError((workdir / "prom.log").read_text()[-3000:])
        try:
            value = probe()
        except (requests.RequestException, ValueError, KeyError):
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out; prometheus log:\n{(workdir / 'prom.log').read_text()[-3000:]}")
