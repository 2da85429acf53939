"""deploy/elk/: every field the pipeline, template and saved objects use exists in a real emitted line."""
from __future__ import annotations

import importlib.util
import io
import json
import logging
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.ai import metering
from app.ai.client import ChatResult, LLMClient
from app.infra.logging import JsonFormatter
from tests.conftest import ROOT

ELK = ROOT / "deploy" / "elk"
PIPELINE = ELK / "logstash" / "openclaw.conf"
TEMPLATE = ELK / "elasticsearch" / "openclaw-llm-template.json"
SAVED_OBJECTS = ELK / "kibana" / "openclaw.ndjson"
RULE = ELK / "kibana" / "slow-call-rule.json"
# Fields the pipeline itself creates or uses for routing, not read from the line.
PIPELINE_OWN = {"@metadata", "index", "tags", "token_efficiency"}


def emitted_line(app: Flask, *, error: str | None = None) -> dict[str, Any]:
    """The JSON line metering.record() writes for one model call, exactly as stdout gets it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("app.ai.metering")
    logger.addHandler(handler)
    try:
        client = LLMClient(provider="ollama", base_url="http://127.0.0.1:9", model="qwen3:32b")
        metering.record(client, metering.CallMeta("evt-1", "ou_bob", "oc_ops"),
                        ChatResult(input_tokens=400, output_tokens=100, duration_ms=6100.5, ttft_ms=250.0),
                        slow_ms=3000, error=error)
    finally:
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    return dict(json.loads(line))


@pytest.fixture
def line(app: Flask) -> dict[str, Any]:
    return emitted_line(app)


def template_fields() -> dict[str, str]:
    return {name: spec["type"] for name, spec in json.loads(TEMPLATE.read_text())["template"]["mappings"]
            ["properties"].items()}


def saved_objects() -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in SAVED_OBJECTS.read_text().splitlines() if raw.strip()]


def test_a_model_call_line_has_the_ecs_fields(line: dict[str, Any]) -> None:
    assert line["service.name"] == "openclaw" and line["log.level"] == "info"
    assert line["event.dataset"] == "openclaw.llm" and line["trace.id"] == line["request_id"] == "evt-1"
    assert line["event.duration"] == 6_100_500_000  # ns
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", line["@timestamp"])
    assert line["tags"] == ["slow_request"] and line["token_efficiency"] == 0.25


def test_a_line_inside_a_request_carries_its_request_id(app: Flask) -> None:
    record = logging.LogRecord("app.web", logging.WARNING, __file__, 1, "hello", (), None)
    with app.test_request_context("/healthz", headers={"X-Request-ID": "req-42"}):
        app.preprocess_request()
        line = json.loads(JsonFormatter().format(record))
    assert line["trace.id"] == "req-42" and line["log.level"] == "warning"


def test_the_pipeline_reads_only_fields_a_line_has(line: dict[str, Any]) -> None:
    text = PIPELINE.read_text()
    referenced = set(re.findall(r"\[([A-Za-z@][^\]\s\"]*)\]", text))
    referenced |= set(re.findall(r'event\.[gs]et\("([^"]+)"', text))
    referenced -= {"openclaw.llm"}
    assert {"event.dataset", "duration_ms", "status", "input_tokens", "output_tokens"} <= referenced
    assert referenced - PIPELINE_OWN <= set(line), referenced - PIPELINE_OWN - set(line)
    assert '"openclaw-llm-%{+YYYY.MM.dd}"' in text


def test_the_pipeline_tags_match_what_the_app_computes(app: Flask, line: dict[str, Any]) -> None:
    failed = emitted_line(app, error="boom")
    assert "error_request" in failed["tags"] and failed["status"] == "error"
    text = PIPELINE.read_text()
    assert '[status] == "error"' in text and 'add_tag => ["error_request"]' in text
    assert 'add_tag => ["slow_request"]' in text
    assert "(output / input).round(4)" in text  # metering.efficiency() rounds the same way


def test_the_index_template_is_valid_and_maps_the_model_call_fields(line: dict[str, Any]) -> None:
    template = json.loads(TEMPLATE.read_text())
    assert template["index_patterns"] == ["openclaw-llm-*"]
    mapped = template_fields()
    assert set(mapped) <= set(line), set(mapped) - set(line)
    short_names = {"timestamp", "level", "logger"}  # duplicates of @timestamp, log.level, log.logger
    assert set(line) - short_names <= set(mapped), set(line) - short_names - set(mapped)
    numeric = {"integer", "long", "float", "double"}
    for name, kind in mapped.items():
        value = line[name]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert kind in numeric, name
        elif isinstance(value, str) and name != "@timestamp":
            assert kind in ("keyword", "text"), name


def test_the_saved_objects_are_valid_and_use_mapped_fields(line: dict[str, Any]) -> None:
    objects = saved_objects()
    ids = {(obj["type"], obj["id"]) for obj in objects}
    assert len(ids) == len(objects)
    assert {"index-pattern", "visualization", "search", "dashboard"} == {obj["type"] for obj in objects}
    mapped = template_fields()
    used: set[str] = set()
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in ids, ref
        attributes = obj["attributes"]
        if obj["type"] == "index-pattern":
            assert attributes["title"] == "openclaw-llm-*" and attributes["timeFieldName"] in mapped
        if obj["type"] == "visualization":
            state = json.loads(attributes["visState"])
            used |= {agg["params"]["field"] for agg in state["aggs"] if "field" in agg["params"]}
        if obj["type"] == "search":
            used |= set(attributes["columns"]) | {attributes["sort"][0][0]}
            query = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
            used |= set(re.findall(r"([\w.@]+):", query))
    assert {"duration_ms", "status", "model", "token_efficiency", "tags"} <= used
    assert used <= set(mapped) and used <= set(line), used - set(mapped)


def test_the_saved_objects_file_is_the_generator_output() -> None:
    spec = importlib.util.spec_from_file_location("kibana_objects", ROOT / "scripts" / "elk" / "kibana_objects.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert SAVED_OBJECTS.read_text() == module.render()


def test_the_slow_call_rule_queries_the_index_and_fields(line: dict[str, Any]) -> None:
    rule = json.loads(RULE.read_text())
    params = rule["params"]
    assert params["index"] == ["openclaw-llm-*"] and params["threshold"] == [5] and params["timeWindowSize"] == 5
    assert {params["timeField"], params["termField"]} <= set(line) & set(template_fields())
    assert json.loads(params["esQuery"])["query"]["bool"]["filter"][0]["term"] == {"tags": "slow_request"}


def test_rsyslog_forwards_to_the_pipelines_tcp_input() -> None:
    rsyslog = (ELK / "rsyslog" / "30-openclaw.conf").read_text()
    port = re.search(r'Port="(\d+)"', rsyslog)
    assert port and f"port => {port.group(1)}" in PIPELINE.read_text()
    assert "codec => json_lines" in PIPELINE.read_text()


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate not installed")
def test_logrotate_accepts_the_snippet(tmp_path: Path) -> None:
    done = subprocess.run(["logrotate", "-d", "-s", str(tmp_path / "state"), str(ELK / "logrotate" / "openclaw")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "error" not in (done.stdout + done.stderr).lower(), done.stderr
