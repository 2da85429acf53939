"""FakeBitableServer: the fake Feishu plus the Bitable record API (search, batch_create, batch_update).

Like Feishu it checks the tenant token, the Base and table, every field name against the
table's columns and every value against the column's type (text: string, number:
number, datetime: milliseconds), returns text fields from search as segment lists, pages
search results, and treats a repeated batch_create client_token as the same request.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request

from tests.fakes.feishu_server import FakeFeishuServer
from tests.fakes.feishu_state import ApiError, Reply

PREFIX = "/open-apis/bitable/v1/apps/"
MAX_BATCH = 1000
MAX_PAGE = 500
# Feishu's codes for these failures (bitable error code table)
NOT_FOUND_BASE, NOT_FOUND_TABLE, NOT_FOUND_RECORD, NOT_FOUND_FIELD = 1254040, 1254041, 1254043, 1254045
BAD_REQUEST, TOO_LARGE = 1254000, 1254104
CONVERSION = {"text": 1254060, "number": 1254061, "datetime": 1254064}


@dataclass
class FakeTable:
    columns: dict[str, str]  # name -> text | number | datetime
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # record_id -> fields
    created: dict[str, list[str]] = field(default_factory=dict)  # client_token -> record_ids


def _check_value(kind: str, value: Any) -> bool:
    if value is None:
        return True
    if kind == "text":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class FakeBitableServer(FakeFeishuServer):
    """Fake Feishu with Bases: add_table(app_token, table_id, columns) before use."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bases: dict[str, dict[str, FakeTable]] = {}
        self._ids = 0
        self._bitable_lock = threading.RLock()

    def add_table(self, app_token: str, table_id: str, columns: dict[str, str]) -> FakeTable:
        table = FakeTable(dict(columns))
        self.bases.setdefault(app_token, {})[table_id] = table
        return table

    def rows(self, app_token: str, table_id: str) -> list[dict[str, Any]]:
        """The table's records' fields, in creation order."""
        return list(self.bases[app_token][table_id].records.values())

    def _dispatch(self, request: Request, body: Any, size: int) -> Reply:
        if not request.path.startswith(PREFIX):
            return super()._dispatch(request, body, size)
        parts = request.path[len(PREFIX):].split("/")
        if len(parts) != 5 or parts[1] != "tables" or parts[3] != "records" or request.method != "POST":
            return Reply(404, "404 page not found")
        app_token, _, table_id, _, action = parts
        try:
            self.check_token(request.headers.get("Authorization"))
            with self._bitable_lock:
                base = self.bases.get(app_token)
                if base is None:
                    raise ApiError(NOT_FOUND_BASE, "BaseTokenNotFound", 404)
                table = base.get(table_id)
                if table is None:
                    raise ApiError(NOT_FOUND_TABLE, "TableIdNotFound", 404)
                if not isinstance(body, dict):
                    raise ApiError(BAD_REQUEST, "WrongRequestBody")
                handler = {"search": self._search, "batch_create": self._create, "batch_update": self._update}.get(
                    action)
                if handler is None:
                    return Reply(404, "404 page not found")
                data = handler(table, body, dict(request.args.items()))
        except ApiError as exc:
            return Reply(exc.status, {"code": exc.code, "msg": exc.msg})
        return Reply(200, {"code": 0, "msg": "success", "data": data})

    # -- the three calls ---------------------------------------------------------------------

    def _check_fields(self, table: FakeTable, fields: Any) -> dict[str, Any]:
        if not isinstance(fields, dict):
            raise ApiError(BAD_REQUEST, "WrongRequestBody")
        for name, value in fields.items():
            kind = table.columns.get(name)
            if kind is None:
                raise ApiError(NOT_FOUND_FIELD, f"FieldNameNotFound: {name}")
            if not _check_value(kind, value):
                raise ApiError(CONVERSION[kind], f"{kind.capitalize()}FieldConvFail: {name}")
        return fields

    def _batch(self, body: dict[str, Any]) -> list[Any]:
        records = body.get("records")
        if not isinstance(records, list) or not records:
            raise ApiError(BAD_REQUEST, "WrongRequestBody")
        if len(records) > MAX_BATCH:
            raise ApiError(TOO_LARGE, "TooLargeRequest")
        return records

    def _create(self, table: FakeTable, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        token = query.get("client_token")
        if token and token in table.created:  # the same request again: the same records, nothing new
            return {"records": [{"record_id": rid, "fields": table.records[rid]} for rid in table.created[token]]}
        checked = [self._check_fields(table, record.get("fields") if isinstance(record, dict) else None)
                   for record in self._batch(body)]
        ids = []
        for fields in checked:
            self._ids += 1
            record_id = f"rec{self._ids:010d}"
            table.records[record_id] = {name: value for name, value in fields.items() if value is not None}
            ids.append(record_id)
        if token:
            table.created[token] = ids
        return {"records": [{"record_id": rid, "fields": table.records[rid]} for rid in ids]}

    def _update(self, table: FakeTable, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        records = self._batch(body)
        for record in records:
            if not isinstance(record, dict) or record.get("record_id") not in table.records:
                raise ApiError(NOT_FOUND_RECORD, "RecordIdNotFound")
            self._check_fields(table, record.get("fields"))
        for record in records:
            current = table.records[record["record_id"]]
            for name, value in record["fields"].items():
                if value is None:
                    current.pop(name, None)
                else:
                    current[name] = value
        return {"records": [{"record_id": r["record_id"], "fields": table.records[r["record_id"]]} for r in records]}

    def _search(self, table: FakeTable, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        page_size = int(query.get("page_size") or 20)
        if not 1 <= page_size <= MAX_PAGE:
            raise ApiError(BAD_REQUEST, "page_size must be 1..500")
        conditions = (body.get("filter") or {}).get("conditions") or []
        conjunction = (body.get("filter") or {}).get("conjunction", "and")
        for condition in conditions:
            if condition.get("field_name") not in table.columns:
                raise ApiError(NOT_FOUND_FIELD, "FieldNameNotFound")
            if condition.get("operator") != "is" or not isinstance(condition.get("value"), list):
                raise ApiError(BAD_REQUEST, "InvalidFilter")

        def matches(fields: dict[str, Any]) -> bool:
            hits = [str(fields.get(c["field_name"], "")) == str(c["value"][0]) for c in conditions]
            return not hits or (any(hits) if conjunction == "or" else all(hits))

        found = [(rid, fields) for rid, fields in table.records.items() if matches(fields)]
        start = int(query.get("page_token") or 0)
        page = found[start:start + page_size]
        names = body.get("field_names")
        items = []
        for rid, fields in page:
            shown = {k: v for k, v in fields.items() if names is None or k in names}
            items.append({"record_id": rid, "fields": {
                k: ([{"text": v, "type": "text"}] if table.columns[k] == "text" else v) for k, v in shown.items()}})
        more = start + page_size < len(found)
        return {"items": items, "has_more": more, "page_token": str(start + page_size) if more else "",
                "total": len(found)}
