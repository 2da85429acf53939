"""/logs from Elasticsearch (ELASTICSEARCH_URL): POST {index}/_search with a bool filter query.

The request body is a Python structure serialised by the JSON encoder: user text
(--grep) is only ever a string value of a match_phrase, never spliced into JSON
or query-string syntax. Lines come back newest first (sort @timestamp desc,
size = lines) and are printed oldest to newest as "timestamp host message",
redacted before they leave this module.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from app.automation.redact import redact
from app.automation.sources import Query, SourceRun
from app.automation.transport import Outcome, RunResult
from app.infra.http import shared_session

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0
SOURCE_LABEL = "(elasticsearch)"  # the host column of the result row: not an inventory host name


class ElasticsearchError(Exception):
    """Elasticsearch could not answer (unreachable, timeout, error status, unexpected body)."""


def search_body(*, service: str, service_field: str, lines: int, host: str | None = None,
                since_seconds: int | None = None, grep: str | None = None) -> dict[str, Any]:
    """The _search request body: filters on service (and host, time, phrase), newest first."""
    filters: list[dict[str, Any]] = [{"term": {service_field: service}}]
    if host is not None:
        filters.append({"term": {"host.name": host}})
    if since_seconds is not None:
        filters.append({"range": {"@timestamp": {"gte": f"now-{int(since_seconds)}s"}}})
    if grep is not None:
        filters.append({"match_phrase": {"message": grep}})
    return {
        "size": int(lines),
        "sort": [{"@timestamp": {"order": "desc"}}],
        "_source": ["@timestamp", "host.name", "message"],
        "query": {"bool": {"filter": filters}},
    }


def _field(source: Mapping[str, Any], dotted: str) -> Any:
    """source['host']['name'] or source['host.name'] for 'host.name'."""
    if dotted in source:
        return source[dotted]
    value: Any = source
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def format_hits(hits: list[Any]) -> list[str]:
    """'timestamp host message' per hit, oldest first (hits come newest first)."""
    lines = []
    for hit in reversed(hits):
        source = hit.get("_source") if isinstance(hit, Mapping) else None
        if not isinstance(source, Mapping):
            continue
        stamp = _field(source, "@timestamp") or "-"
        host = _field(source, "host.name") or "-"
        message = _field(source, "message")
        lines.append(f"{stamp} {host} {'' if message is None else message}".rstrip())
    return lines


def search(base_url: str, index: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The decoded _search answer; ElasticsearchError with a short, redacted reason otherwise."""
    url = f"{base_url.rstrip('/')}/{quote(index, safe='*,')}/_search"
    try:
        response = shared_session().post(url, json=body, timeout=(min(CONNECT_TIMEOUT, timeout), timeout))
    except requests.Timeout:
        raise ElasticsearchError(f"no answer within {timeout:g}s") from None
    except requests.RequestException as exc:
        raise ElasticsearchError(f"unreachable ({type(exc).__name__})") from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200:
        reason = ""
        if isinstance(answer, Mapping) and isinstance(answer.get("error"), Mapping):
            error = answer["error"]
            reason = f": {error.get('type', '')} {str(error.get('reason', ''))[:200]}".rstrip()
        raise ElasticsearchError(redact(f"HTTP {response.status_code}{reason}"))
    if not isinstance(answer, Mapping) or not isinstance(answer.get("hits"), Mapping) \
            or not isinstance(answer["hits"].get("hits"), list):
        raise ElasticsearchError("answer has no hits.hits")
    return dict(answer)


def _total(answer: Mapping[str, Any]) -> str:
    total = answer["hits"].get("total")
    if isinstance(total, Mapping) and isinstance(total.get("value"), int):
        return f"{total['value']}{'+' if total.get('relation') == 'gte' else ''}"
    if isinstance(total, int):
        return str(total)
    return "?"


def run(query: Query, names: tuple[str, ...], config: Mapping[str, Any]) -> SourceRun:
    """Answer a /logs query with one result row (host column '(elasticsearch)'); errors make a failed row."""
    values = query.values
    base_url = str(config.get("ELASTICSEARCH_URL") or "")
    timeout = float(config["ELASTICSEARCH_TIMEOUT"])
    index = str(values["index"])
    body = search_body(service=str(values["service"]), service_field=str(values["service_field"]),
                       lines=int(values["lines"]), host=values.get("host"), since_seconds=values.get("since_seconds"),
                       grep=values.get("grep"))
    try:
        answer = search(base_url, index, body, timeout)
    except ElasticsearchError as exc:
        logger.warning("elasticsearch search failed", extra={"error": str(exc), "index": index})
        return SourceRun([RunResult(SOURCE_LABEL, Outcome.UNREACHABLE if "unreachable" in str(exc)
                                    or "no answer" in str(exc) else Outcome.FAILED,
                                    error=f"Elasticsearch {exc}")])
    lines = format_hits(answer["hits"]["hits"])
    text = redact("\n".join(lines))
    cap = int(config["SSH_OUTPUT_CAP"])
    if len(text) > cap:
        text = "[earlier lines cut]\n" + text[-cap:]
    header = f"# {len(lines)} of {_total(answer)} matching lines from {index}\n"
    return SourceRun([RunResult(SOURCE_LABEL, Outcome.OK, exit_code=0, output=header + text)])
