"""A stand-in Elasticsearch on loopback speaking the real `_search` API (request and response format of ES 8).

It evaluates the subset of the query DSL /logs uses — bool.filter of term, range on
@timestamp with `now-Ns`, match_phrase — strictly: any other clause is answered as
Elasticsearch does (400 parsing_exception). It records every request (path and raw
body) so tests can check exactly what was sent. Elasticsearch is not packaged in Debian.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from tests.automation.sshd import free_port


@dataclass
class Recorded:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeElasticsearch:
    docs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # index -> documents (_source)
    requests: list[Recorded] = field(default_factory=list)
    fail_with: int | None = None  # answer every search with this status (e.g. 503)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeElasticsearch:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                fake.requests.append(Recorded("POST", self.path, body, dict(self.headers)))
                status, answer = fake.answer(self.path, body, self.headers.get("Content-Type", ""))
                data = json.dumps(answer, separators=(",", ":")).encode()
                self.send_response(status)
                self.send_header("X-elastic-product", "Elasticsearch")
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def clear(self) -> None:
        self.requests.clear()
        self.docs.clear()
        self.fail_with = None

    # --- the _search API --------------------------------------------------------------------------
    def answer(self, path: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) != 2 or parts[1] != "_search":
            return 405, _error("illegal_argument_exception", f"no handler for POST {path}", 405)
        if self.fail_with is not None:
            return self.fail_with, _error("search_phase_execution_exception", "all shards failed", self.fail_with)
        if not content_type.startswith("application/json"):
            return 406, _error("media_type_header_exception", f"Content-Type [{content_type}] is not supported", 406)
        try:
            request = json.loads(body)
        except ValueError:
            return 400, _error("x_content_parse_exception", "Failed to parse object", 400)
        pattern = unquote(parts[0])
        indices = [name for name in self.docs if _index_matches(pattern, name)]
        if not indices:
            return 404, _error("index_not_found_exception", f"no such index [{pattern}]", 404)
        try:
            hits = [(name, doc) for name in indices for doc in self.docs[name] if _matches(request, doc)]
        except ParsingError as exc:
            return 400, _error("parsing_exception", str(exc), 400)
        unknown = set(request) - {"size", "sort", "_source", "query"}
        if unknown:
            return 400, _error("parsing_exception", f"Unknown key for a START_OBJECT in [{min(unknown)}].", 400)
        if request.get("sort") != [{"@timestamp": {"order": "desc"}}]:
            return 400, _error("parsing_exception", "unexpected sort", 400)
        hits.sort(key=lambda item: _time(item[1]["@timestamp"]), reverse=True)
        size = int(request.get("size", 10))
        shown = hits[:size]
        return 200, {
            "took": 1, "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": len(hits), "relation": "eq"},
                "max_score": None,
                "hits": [
                    {"_index": name, "_id": f"id-{i}", "_score": None,
                     "_source": _filter_source(doc, request.get("_source")),
                     "sort": [int(_time(doc["@timestamp"]).timestamp() * 1000)]}
                    for i, (name, doc) in enumerate(shown)
                ],
            },
        }


class ParsingError(Exception):
    pass


def _error(kind: str, reason: str, status: int) -> dict[str, Any]:
    return {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
            "status": status}


def _index_matches(pattern: str, name: str) -> bool:
    from fnmatch import fnmatchcase

    return any(fnmatchcase(name, part) for part in pattern.split(","))


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _get(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _filter_source(doc: dict[str, Any], wanted: Any) -> dict[str, Any]:
    if wanted is None:
        return doc
    out: dict[str, Any] = {}
    for dotted in wanted:
        value = _get(doc, dotted)
        if value is None:
            continue
        target = out
        *parents, last = dotted.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return out


def _matches(request: dict[str, Any], doc: dict[str, Any]) -> bool:
    query = request.get("query")
    if set(query or {}) != {"bool"} or set(query["bool"]) != {"filter"}:
        raise ParsingError("only bool.filter is understood by this stand-in")
    for clause in query["bool"]["filter"]:
        if len(clause) != 1:
            raise ParsingError("[bool] malformed query")
        (kind, spec), = clause.items()
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ParsingError(f"[{kind}] query malformed")
        (name, value), = spec.items()
        if kind == "term":
            if _get(doc, name) != value:
                return False
        elif kind == "range":
            if name != "@timestamp" or set(value) != {"gte"} or not str(value["gte"]).startswith("now-") \
                    or not str(value["gte"]).endswith("s"):
                raise ParsingError("range: only @timestamp gte now-Ns")
            seconds = int(str(value["gte"])[4:-1])
            if _time(doc["@timestamp"]) < datetime.now(UTC) - timedelta(seconds=seconds):
                return False
        elif kind == "match_phrase":
            if not isinstance(value, str):
                raise ParsingError("[match_phrase] expects a string")
            if value.lower() not in str(_get(doc, name) or "").lower():
                return False
        else:
            raise ParsingError(f"unknown query [{kind}]")
    return True
