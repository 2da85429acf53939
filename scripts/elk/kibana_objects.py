"""Write deploy/elk/kibana/openclaw.ndjson, the Kibana saved objects for OpenClaw's model calls.

    .venv/bin/python scripts/elk/kibana_objects.py    # rewrite the file after changing this script

tests/monitoring/test_elk.py checks the committed file equals this script's output.
"""
import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "deploy" / "elk" / "kibana" / "openclaw.ndjson"

DV = "openclaw-llm-data-view"
def vis(id_, title, vis_state):
    return {"type": "visualization", "id": id_, "attributes": {
        "title": title, "description": "", "uiStateJSON": "{}", "version": 1,
        "visState": json.dumps({"title": title, **vis_state}),
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({
            "query": {"query": "", "language": "kuery"}, "filter": [],
            "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"})}},
        "references": [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": DV}]}

objects = [
    {"type": "index-pattern", "id": DV, "attributes": {
        "title": "openclaw-llm-*", "timeFieldName": "@timestamp", "name": "OpenClaw model calls"}, "references": []},
    vis("openclaw-llm-requests-per-minute", "OpenClaw: model requests per minute", {
        "type": "line", "params": {"type": "line", "addLegend": True, "legendPosition": "right"},
        "aggs": [{"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}},
                 {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment",
                  "params": {"field": "@timestamp", "fixed_interval": "1m", "min_doc_count": 0}},
                 {"id": "3", "enabled": True, "type": "terms", "schema": "group",
                  "params": {"field": "model", "size": 10, "order": "desc", "orderBy": "1"}}]}),
    vis("openclaw-llm-duration-heatmap", "OpenClaw: average duration by status and model", {
        "type": "heatmap", "params": {"type": "heatmap", "addTooltip": True, "addLegend": True},
        "aggs": [{"id": "1", "enabled": True, "type": "avg", "schema": "metric", "params": {"field": "duration_ms"}},
                 {"id": "2", "enabled": True, "type": "terms", "schema": "segment",
                  "params": {"field": "status", "size": 5, "order": "desc", "orderBy": "1"}},
                 {"id": "3", "enabled": True, "type": "terms", "schema": "group",
                  "params": {"field": "model", "size": 20, "order": "desc", "orderBy": "1"}}]}),
    vis("openclaw-llm-token-efficiency", "OpenClaw: token efficiency by model", {
        "type": "table", "params": {"perPage": 20, "showTotal": True},
        "aggs": [{"id": "1", "enabled": True, "type": "avg", "schema": "metric",
                  "params": {"field": "token_efficiency"}},
                 {"id": "2", "enabled": True, "type": "sum", "schema": "metric", "params": {"field": "input_tokens"}},
                 {"id": "3", "enabled": True, "type": "sum", "schema": "metric", "params": {"field": "output_tokens"}},
                 {"id": "4", "enabled": True, "type": "count", "schema": "metric", "params": {}},
                 {"id": "5", "enabled": True, "type": "terms", "schema": "bucket",
                  "params": {"field": "model", "size": 20, "order": "desc", "orderBy": "4"}}]}),
    {"type": "search", "id": "openclaw-llm-slow-requests", "attributes": {
        "title": "OpenClaw: slow model calls (slow_request)", "description": "",
        "columns": ["model", "duration_ms", "ttft_ms", "status", "user_id", "request_id"],
        "sort": [["@timestamp", "desc"]],
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({
            "query": {"query": "tags:slow_request", "language": "kuery"}, "filter": [],
            "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"})}},
     "references": [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": DV}]},
]
panels = []
refs = []
for i, obj in enumerate(o for o in objects if o["type"] in ("visualization", "search")):
    panels.append({"panelIndex": str(i + 1), "gridData": {"x": (i % 2) * 24, "y": (i // 2) * 15, "w": 24, "h": 15,
                   "i": str(i + 1)}, "version": "8.0.0", "panelRefName": f"panel_{i}", "embeddableConfig": {}})
    refs.append({"name": f"panel_{i}", "type": obj["type"], "id": obj["id"]})
objects.append({"type": "dashboard", "id": "openclaw-llm-dashboard", "attributes": {
    "title": "OpenClaw: model calls", "description": "Requests per minute, duration by status and model, "
    "token efficiency, slow calls", "panelsJSON": json.dumps(panels), "timeRestore": False, "version": 1,
    "optionsJSON": json.dumps({"useMargins": True}),
    "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"},
                                                              "filter": []})}},
    "references": refs})


def render() -> str:
    return "".join(json.dumps(obj, separators=(",", ":")) + "\n" for obj in objects)


if __name__ == "__main__":
    OUT.write_text(render())
