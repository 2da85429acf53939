"""/api/v1/openapi.json: the API described by hand; tests check it against the routes and fuzz it."""
from __future__ import annotations

from typing import Any

from flask import jsonify

from app.web.api import bp

STR, INT, BOOL, NUM = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}, {"type": "number"}


def _null(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required if required is not None else list(props)}


def _list_of(name: str) -> dict[str, Any]:
    return _obj({"items": {"type": "array", "items": _ref(name)}, "page": INT, "per_page": INT, "has_next": BOOL})


def _audit_list() -> dict[str, Any]:
    listed = _list_of("AuditEvent")
    listed["properties"]["next_before"] = _null({"type": "integer"})
    return listed


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema or STR}


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}


PAGING = [_query("page", "1-based page number", {"type": "integer", "minimum": 1, "maximum": 100000}),
          _query("per_page", "items per page", {"type": "integer", "minimum": 1, "maximum": 200})]
ERRORS = {code: {"$ref": f"#/components/responses/{name}"} for code, name in
          (("400", "Invalid"), ("401", "Unauthorized"), ("403", "Forbidden"))}


def _op(summary: str, role: str, ok: dict[str, Any], *, params: list[dict[str, Any]] | None = None,
        body: str | None = None, extra: tuple[str, ...] = (), status: str = "200") -> dict[str, Any]:
    responses: dict[str, Any] = {status: {"description": "OK", "content": {"application/json": {"schema": ok}}}}
    responses.update(ERRORS)
    for code in extra:
        responses[code] = {"$ref": f"#/components/responses/{ {'404': 'NotFound', '409': 'Conflict'}[code] }"}
    op: dict[str, Any] = {"summary": summary, "description": f"Needs the {role} role.", "parameters": params or [],
                          "responses": responses, "x-role": role}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return op


SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _obj({"code": STR, "message": STR})}),
    "Me": _obj({"login": _null(STR), "name": STR, "role": {"type": "string", "enum": ["user", "auditor", "operator", "admin"]},
                "actor": STR}),
    "Alert": _obj({
        "id": INT, "title": STR, "alertname": STR, "severity": {"type": "string", "enum": ["critical", "warning", "info"]},
        "status": {"type": "string", "enum": ["firing", "acknowledged", "resolved"]}, "source": STR,
        "host": _null(STR), "service": _null(STR), "summary": STR, "labels": {"type": "object"}, "value": _null(STR),
        "count": INT, "fingerprint": STR, "starts_at": _null(STR), "last_seen": _null(STR), "ends_at": _null(STR),
        "acked_by": _null(STR), "acked_at": _null(STR), "resolved_by": _null(STR), "resolved_at": _null(STR)}),
    "AlertChange": _obj({"alert": _ref("Alert"), "changed": BOOL}),
    "Silence": _obj({"id": INT, "matchers": {"type": "object", "additionalProperties": STR}, "created_by": STR,
                     "created_at": STR, "ends_at": STR, "comment": _null(STR), "removed_by": _null(STR),
                     "removed_at": _null(STR)}),
    "NewSilence": _obj({
        "matchers": {"type": "object", "minProperties": 1, "maxProperties": 20,
                     "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 200}},
        "duration": {"type": "string", "pattern": "^([0-9]+[smhdw])+$", "example": "2h"},
        "comment": {"type": "string", "maxLength": 500}}, ["matchers", "duration"]),
    "Execution": _obj({
        "id": INT, "kind": STR, "target": STR, "args": {"type": "object"}, "status": STR, "requested_by": STR,
        "approver": _null(STR), "cancelled_by": _null(STR), "summary": _null(STR), "created_at": _null(STR),
        "started_at": _null(STR), "finished_at": _null(STR), "duration_ms": _null(INT)}),
    "ExecutionHost": _obj({
        "host": STR, "step": INT, "step_name": STR, "command": STR, "outcome": STR, "exit_code": _null(INT),
        "output": STR, "error": _null(STR), "started_at": _null(STR), "finished_at": _null(STR)}),
    "AuditEvent": _obj({
        "id": INT, "seq": INT, "created_at": STR, "actor": STR, "action": STR, "target": _null(STR),
        "chat_id": _null(STR), "details": {"type": "object"}, "prev_hash": STR, "hash": STR}),
    "ChainReport": _obj({"ok": BOOL, "checked": INT, "broken_seq": _null(INT), "broken_id": _null(INT),
                         "reason": _null(STR)}),
    "ArticleSummary": _obj({"id": INT, "title": STR, "tags": {"type": "array", "items": STR}, "author": STR,
                            "version": INT, "created_at": STR, "updated_at": STR}),
    "ArticleVersion": _obj({"version": INT, "title": STR, "body": STR, "tags": {"type": "array", "items": STR},
                            "author": STR, "created_at": STR}),
    "SearchHit": _obj({"id": INT, "title": STR, "score": NUM, "snippet": STR, "tags": {"type": "array", "items": STR}}),
    "NewArticle": _obj({"title": {"type": "string", "minLength": 1, "maxLength": 200},
                        "body": {"type": "string", "minLength": 1, "maxLength": 100000},
                        "tags": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 20}},
                       ["title", "body"]),
    "ArticleUpdate": _obj({"title": {"type": "string", "minLength": 1, "maxLength": 200},
                           "body": {"type": "string", "minLength": 1, "maxLength": 100000},
                           "tags": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 20}},
                          ["body"]),
    "Stats": _obj({"key": STR, "calls": INT, "failed": INT, "slow": INT, "input_tokens": INT, "output_tokens": INT,
                   "p50": _null(NUM), "p95": _null(NUM), "p99": _null(NUM)}),
    "ClientStats": {"allOf": [_ref("Stats"), _obj({"model": STR})]},
    "Bucket": _obj({"start": STR, "calls": INT, "failed": INT, "p95": _null(NUM)}),
    "Usage": _obj({"since": STR, "slow_ms": INT, "totals": _ref("Stats"),
                   "per_model": {"type": "array", "items": _ref("Stats")},
                   "per_user": {"type": "array", "items": _ref("Stats")},
                   "per_client": {"type": "array", "items": _ref("ClientStats")},
                   "timeline": {"type": "array", "items": _ref("Bucket")}}),
    "Incident": _obj({"id": INT, "ref": STR, "title": STR, "severity": STR, "status": STR, "commander": STR,
                      "opened_by": STR, "war_room_chat_id": _null(STR), "alert_ids": {"type": "array", "items": INT},
                      "summary": _null(STR), "created_at": STR, "resolved_at": _null(STR),
                      "resolved_by": _null(STR)}),
    "TimelineEntry": _obj({"at": STR, "author": STR, "kind": STR, "text": STR}),
    "IncidentAction": _obj({"id": INT, "kind": STR, "target": STR, "status": STR, "requested_by": STR,
                            "created_at": STR, "summary": _null(STR)}),
    "Figure": _obj({"count": INT, "open": INT, "p50": _null(NUM), "p90": _null(NUM)}),
    "ResponseGroup": _obj({"key": STR, "mtta": _ref("Figure"), "mttr": _ref("Figure"), "incidents": _ref("Figure")}),
    "ResponseTimes": _obj({"start": STR, "end": STR, "timezone": STR, "overall": _ref("ResponseGroup"),
                           **{k: {"type": "array", "items": _ref("ResponseGroup")}
                              for k in ("weeks", "by_service", "by_severity", "by_team")}}),
    "LLMCall": _obj({"id": INT, "timestamp": STR, "request_id": STR, "user_id": _null(STR), "client": STR,
                     "provider": STR, "model": STR, "upstream": _null(STR), "input_tokens": INT,
                     "tokens_estimated": {"type": "boolean"}, "output_tokens": INT, "duration_ms": NUM, "ttft_ms": _null(NUM),
                     "status": {"type": "string", "enum": ["ok", "error"]}, "error": _null(STR),
                     "tags": {"type": "array", "items": STR}}),
}
SCHEMAS["ExecutionDetail"] = {"allOf": [_ref("Execution"), _obj({"hosts": {"type": "array", "items": _ref("ExecutionHost")}})]}
SCHEMAS["IncidentDetail"] = {"allOf": [_ref("Incident"), _obj({
    "timeline": {"type": "array", "items": _ref("TimelineEntry")}, "alerts": {"type": "array", "items": _ref("Alert")},
    "actions": {"type": "array", "items": _ref("IncidentAction")}, "participants": {"type": "array", "items": STR}})]}
SCHEMAS["Article"] = {"allOf": [_ref("ArticleSummary"), _obj({"body": STR})]}

ALERT_FILTERS = [
    _query("status", "open (default), all, or one state",
           {"type": "string", "enum": ["open", "all", "firing", "acknowledged", "resolved"]}),
    _query("severity", "one severity", {"type": "string", "enum": ["critical", "warning", "info"]}),
    _query("service", "exact service name"), _query("host", "exact host name"),
    _query("q", "text in the alert name or summary"),
]
EXECUTION_FILTERS = [
    _query("status", "active, or one status", {"type": "string", "enum": [
        "active", "queued", "awaiting_approval", "running", "succeeded", "failed", "cancelled", "interrupted",
        "rejected", "expired"]}),
    _query("kind", "one kind", {"type": "string", "enum": ["status", "logs", "restart", "deploy", "run"]}),
    _query("requested_by", "the requester's open_id"),
]
AUDIT_FILTERS = [
    _query("actor", "exact actor"), _query("action", "exact action, or a prefix ending in *"),
    _query("target", "exact target, e.g. alert:12"), _query("q", "text anywhere in the record"),
    _query("since", "ISO date or time (inclusive)", {"type": "string", "format": "date"}),
    _query("until", "ISO date or time (exclusive)", {"type": "string", "format": "date"}),
    _query("before", "with q: continue the search below this seq (the previous answer's next_before)",
           {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}),
]
DAYS = _query("days", "how many days back (default 1)", {"type": "integer", "minimum": 1, "maximum": 90})
CALL_FILTERS = [DAYS, _query("status", "ok or error", {"type": "string", "enum": ["ok", "error"]}),
                _query("slow", "1: only calls slower than LLM_SLOW_MS", {"type": "string", "enum": ["0", "1"]}),
                _query("model", "exact model"), _query("user", "the asker's open_id (web:LOGIN for accounts without one)"),
                _query("client", "bot, or the gateway API token's name")]

PATHS: dict[str, Any] = {
    "/me": {"get": _op("Who the token belongs to", "user", _ref("Me"))},
    "/alerts": {"get": _op("List alerts, newest first", "user", _list_of("Alert"), params=ALERT_FILTERS + PAGING)},
    "/alerts/{alert_id}": {"get": _op("One alert", "user", _ref("Alert"), params=[_id("alert_id")], extra=("404",))},
    "/alerts/{alert_id}/ack": {"post": _op("Acknowledge a firing alert", "operator", _ref("AlertChange"),
                                           params=[_id("alert_id")], extra=("404",))},
    "/alerts/{alert_id}/resolve": {"post": _op("Resolve an open alert", "operator", _ref("AlertChange"),
                                               params=[_id("alert_id")], extra=("404",))},
    "/silences": {
        "get": _op("List silences: active (ending soonest first) or past", "user", _list_of("Silence"),
                   params=[_query("state", "active (default) or past", {"type": "string", "enum": ["active", "past"]})]
                   + PAGING),
        "post": _op("Add a silence (at most 30 days)", "operator", _ref("Silence"), body="NewSilence", status="201"),
    },
    "/silences/{silence_id}": {"delete": _op("End an active silence now", "operator", _ref("Silence"),
                                             params=[_id("silence_id")], extra=("404",))},
    "/executions": {"get": _op("List executions, newest first", "auditor", _list_of("Execution"),
                               params=EXECUTION_FILTERS + PAGING)},
    "/executions/{execution_id}": {"get": _op("One execution with host-by-host output", "auditor",
                                              _ref("ExecutionDetail"), params=[_id("execution_id")], extra=("404",))},
    "/executions/{execution_id}/cancel": {"post": _op("Cancel a waiting, queued or running execution", "operator",
                                                      _ref("Execution"), params=[_id("execution_id")],
                                                      extra=("404", "409"))},
    "/audit": {"get": _op("Search the audit log, newest first (with q: in slices, continue with before)",
                          "auditor", _audit_list(), params=AUDIT_FILTERS + PAGING)},
    "/audit/verify": {"post": _op("Verify the audit chain (the check is recorded)", "auditor", _ref("ChainReport"))},
    "/kb": {
        "get": _op("List articles, or search them with q", "user",
                   {"anyOf": [_list_of("ArticleSummary"), _list_of("SearchHit")]},
                   params=[_query("q", "search text, Chinese or English")] + PAGING),
        "post": _op("Add an article", "operator", _ref("Article"), body="NewArticle", status="201"),
    },
    "/kb/{article_id}": {
        "get": _op("One article", "user", _ref("Article"), params=[_id("article_id")], extra=("404",)),
        "put": _op("Save a new version of an article", "operator", _ref("Article"), params=[_id("article_id")],
                   body="ArticleUpdate", extra=("404",)),
    },
    "/kb/{article_id}/versions": {"get": _op("Every saved version, oldest first", "user",
                                             _obj({"items": {"type": "array", "items": _ref("ArticleVersion")}}),
                                             params=[_id("article_id")], extra=("404",))},
    "/usage": {"get": _op("Model usage: totals, per model, per user, over time", "auditor", _ref("Usage"),
                          params=[DAYS])},
    "/incidents": {"get": _op("List incidents, newest first", "user", _list_of("Incident"), params=[
        _query("status", "open, resolved or all (default)", {"type": "string", "enum": ["all", "open", "resolved"]}),
        _query("severity", "sev1 to sev4", {"type": "string", "enum": ["sev1", "sev2", "sev3", "sev4"]}),
        _query("q", "text in the title or summary")] + PAGING)},
    "/incidents/{incident_id}": {"get": _op("One incident with its timeline, linked alerts, actions and participants",
                                            "user", _ref("IncidentDetail"), params=[_id("incident_id")],
                                            extra=("404",))},
    "/response-times": {"get": _op(
        "MTTA (alert to first ack), MTTR (alert to resolved) and incident time to close, in seconds (p50/p90), "
        "per local week, service, severity and team", "user", _ref("ResponseTimes"),
        params=[_query("weeks", "the current week and this many - 1 before it (1-52, default 8)",
                       {"type": "integer", "minimum": 1, "maximum": 52})])},
    "/usage/calls": {"get": _op("Model calls, newest first", "auditor", _list_of("LLMCall"),
                                params=CALL_FILTERS + PAGING)},
}


def _response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "OpenClaw API", "version": "1",
             "description": "Alerts, incidents, response times, executions, audit, knowledge base and model usage. "
                            "Authenticate with `Authorization: Bearer <token>` from `flask --app app tokens create NAME`."},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        "schemas": SCHEMAS,
        "responses": {"Invalid": _response("Bad parameters or body"),
                      "Unauthorized": _response("No valid token"),
                      "Forbidden": _response("The token's role is not enough"),
                      "NotFound": _response("No such resource"),
                      "Conflict": _response("The resource is not in a state that allows this")},
    },
}


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3 document for /api/v1 (public, like any API description)."""
    return jsonify(DOCUMENT)
