"""The Bitable record API calls the export needs: search by our id, batch_create, batch_update.

Calls go through FeishuClient's transport (token cache, app-wide throttle, rate-limit
waits, error mapping) plus a per-Base throttle, and run in whatever lane the caller is
in (the export job runs in the bulk lane). Bitable answers concurrent writes to one
table with a write-conflict code; those are retried here after a short pause.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from app.feishu.client import FeishuClient
from app.feishu.errors import FeishuError

logger = logging.getLogger(__name__)

ID_FIELD = "OpenClaw ID"
BATCH = 500           # records per batch_create / batch_update (Feishu allows up to 1000)
SEARCH_IDS = 50       # ids per search filter (one condition each, joined with "or")
BASE_RATE = 10        # calls per second to one Base, below Feishu's per-API limits (10-50/s)
RETRY_CODES = frozenset({1254291, 1254290, 1255040})  # write conflict, too many requests, timeout
RETRIES = 3
NAMESPACE = uuid.UUID("6c1e7a52-3f0b-4a55-9a39-0b1d8f0c1e14")


def _segment(value: str) -> str:
    return quote(value, safe="")


class BitableApi:
    """Record calls on one Base (app_token)."""

    def __init__(self, client: FeishuClient, app_token: str, *, pause: float = 0.5) -> None:
        self.client, self.app_token, self.pause = client, app_token, pause

    def _records(self, table_id: str, suffix: str) -> str:
        return f"/open-apis/bitable/v1/apps/{_segment(self.app_token)}/tables/{_segment(table_id)}/records/{suffix}"

    def _call(self, path: str, body: dict[str, Any], params: dict[str, str] | None = None) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                payload = self.client._call(  # noqa: SLF001 - the client's one transport, shared on purpose
                    "POST", path, params=params, body=body, retry_transport=True,
                    throttle=[(f"bitable:{self.app_token}", BASE_RATE)],
                )
                data: dict[str, Any] = payload.get("data") or {}
                return data
            except FeishuError as exc:
                if exc.code not in RETRY_CODES or attempt >= RETRIES:
                    raise
                attempt += 1
                logger.warning("bitable busy (code %s), retry %d", exc.code, attempt, extra={"path": path})
                time.sleep(self.pause * attempt)

    def find(self, table_id: str, ids: Sequence[str]) -> dict[str, str]:
        """record_id by our id for those of ids already in the table."""
        found: dict[str, str] = {}
        for start in range(0, len(ids), SEARCH_IDS):
            chunk = ids[start:start + SEARCH_IDS]
            body = {"field_names": [ID_FIELD], "automatic_fields": False, "filter": {
                "conjunction": "or",
                "conditions": [{"field_name": ID_FIELD, "operator": "is", "value": [i]} for i in chunk]}}
            page_token: str | None = None
            while True:
                params = {"page_size": "500", **({"page_token": page_token} if page_token else {})}
                data = self._call(self._records(table_id, "search"), body, params)
                for item in data.get("items") or []:
                    value = _text((item.get("fields") or {}).get(ID_FIELD))
                    if value in chunk:
                        found.setdefault(value, str(item["record_id"]))
                if not data.get("has_more"):
                    break
                page_token = str(data.get("page_token") or "")
        return found

    def all_ids(self, table_id: str) -> dict[str, str]:
        """record_id by our id for every record in the table (a kind's first run: adopt what is there)."""
        found: dict[str, str] = {}
        body = {"field_names": [ID_FIELD], "automatic_fields": False}
        page_token: str | None = None
        while True:
            params = {"page_size": "500", **({"page_token": page_token} if page_token else {})}
            data = self._call(self._records(table_id, "search"), body, params)
            for item in data.get("items") or []:
                value = _text((item.get("fields") or {}).get(ID_FIELD))
                if value:
                    found.setdefault(value, str(item["record_id"]))
            if not data.get("has_more"):
                return found
            page_token = str(data.get("page_token") or "")

    def create(self, table_id: str, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Create one record per fields dict; their record_ids in the same order.

        The client_token is derived from the ids, so a retried call (lost answer) does not
        create the records twice.
        """
        ids = ",".join(str(fields[ID_FIELD]) for fields in rows)
        token = str(uuid.uuid5(NAMESPACE, f"{self.app_token}:{table_id}:{ids}"))
        data = self._call(self._records(table_id, "batch_create"), {"records": [{"fields": f} for f in rows]},
                          {"client_token": token})
        records = data.get("records") or []
        if len(records) != len(rows):
            raise FeishuError(-1, f"batch_create answered {len(records)} records for {len(rows)}")
        return [str(record["record_id"]) for record in records]

    def update(self, table_id: str, rows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Set the fields of existing records (record_id, fields)."""
        body = {"records": [{"record_id": record_id, "fields": fields} for record_id, fields in rows]}
        self._call(self._records(table_id, "batch_update"), body)


def _text(value: Any) -> str:
    """A text field as search returns it: a plain string, or a list of text segments."""
    if isinstance(value, list):
        return "".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in value)
    return "" if value is None else str(value)
