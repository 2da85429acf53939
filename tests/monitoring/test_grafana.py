"""deploy/grafana/openclaw.json: valid, generated, and querying only series /metrics exposes."""
from __future__ import annotations

import importlib.util
import json
import re
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "openclaw.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def test_the_dashboard_is_the_generator_output() -> None:
    spec = importlib.util.spec_from_file_location("dashboard", ROOT / "scripts" / "grafana" / "dashboard.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DASHBOARD.read_text() == module.render()


def test_the_dashboard_is_importable_json() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] == "OpenClaw"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    rows = {panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"}
    assert {"Traffic and errors", "Latency", "Model usage", "Queues and jobs", "Feishu API"} <= rows
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def test_every_series_queried_is_exposed_by_metrics_with_the_right_type(client: Any) -> None:
    exposed = {family.name: family.type
               for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    queried = {name for expr in exprs() for name in re.findall(r"\b(openclaw_[a-z_]+)", expr)}
    assert len(queried) >= 20
    for name in queried:
        matches = [family for family, kind in exposed.items()
                   if any(name == family + suffix for suffix in SUFFIXES.get(kind, ()))]
        assert matches, f"{name} is not a series /metrics exposes"
