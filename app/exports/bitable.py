"""Mirror alerts, incidents and executions into the Bitable named in the inventory (exports.bitable).

Upserts by our id: a record is created once (its record_id kept in bitable_rows) and
updated when its fields change. New objects are found past a high-water mark
(bitable_cursors.last_id), changed ones among those not yet final (an alert until it
resolves, an incident until it is closed, an execution until it finishes). Every batch
is committed as soon as Bitable accepted it, so a failed or killed run resumes where it
stopped. Objects missing from bitable_rows are first looked up in the table by their
id, so a run that died between Bitable's answer and our commit creates no duplicates.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from app.exports.bitable_api import BATCH, ID_FIELD, BitableApi
from app.exports.models import BitableCursor, BitableRow
from app.exports.records import KINDS, Kind, load
from app.feishu.errors import FeishuError
from app.infra.db import db, utcnow

logger = logging.getLogger(__name__)

MAX_PER_RUN = 5000  # objects looked at per kind and run; the rest wait for the next run


@dataclass
class Outcome:
    """What one run did for one kind."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error: str | None = None
    done: bool = True  # False when MAX_PER_RUN stopped it early
    extra: dict[str, Any] = field(default_factory=dict)


def digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _cursor(kind: str, table_id: str) -> BitableCursor:
    """The kind's cursor; a new table starts over (its records and mark belong to the old table)."""
    cursor = db.session.get(BitableCursor, kind)
    if cursor is None:
        cursor = BitableCursor(kind=kind, table_id=table_id, last_id=0, updated_at=utcnow())
        db.session.add(cursor)
    elif cursor.table_id != table_id:
        db.session.execute(delete(BitableRow).where(BitableRow.kind == kind))
        cursor.table_id, cursor.last_id = table_id, 0
    db.session.commit()
    return cursor


def _changed(kind: Kind, objects: list[Any], known: dict[int, BitableRow]) -> tuple[list[Any], int]:
    """The objects whose fields differ from what was sent (or were never sent), and how many did not."""
    changed = []
    for obj in objects:
        row = known.get(obj.id)
        if row is None or row.digest != digest(kind.fields(obj)):
            changed.append(obj)
    return changed, len(objects) - len(changed)


def _save(kind: Kind, table_id: str, obj: Any, record_id: str, known: dict[int, BitableRow]) -> None:
    fields = kind.fields(obj)
    row = known.get(obj.id)
    if row is None:
        row = BitableRow(kind=kind.name, object_id=obj.id, table_id=table_id, record_id=record_id)
        db.session.add(row)
        known[obj.id] = row
    row.record_id, row.digest, row.final, row.exported_at = record_id, digest(fields), kind.final(obj), utcnow()


def _push(api: BitableApi, kind: Kind, table_id: str, objects: list[Any], known: dict[int, BitableRow],
          outcome: Outcome) -> None:
    """Create or update objects in batches, committing after each batch Bitable accepted."""
    new = [obj for obj in objects if obj.id not in known]
    if new:
        existing = api.find(table_id, [kind.fields(obj)[ID_FIELD] for obj in new])
        for obj in new:
            record_id = existing.get(kind.fields(obj)[ID_FIELD])
            if record_id:  # sent by a run that died before recording it
                known[obj.id] = BitableRow(kind=kind.name, object_id=obj.id, table_id=table_id,
                                           record_id=record_id, digest="")
                db.session.add(known[obj.id])
    to_create = [obj for obj in objects if obj.id not in known]
    to_update = [obj for obj in objects if obj.id in known]
    for start in range(0, len(to_create), BATCH):
        batch = to_create[start:start + BATCH]
        record_ids = api.create(table_id, [kind.fields(obj) for obj in batch])
        for obj, record_id in zip(batch, record_ids, strict=True):
            _save(kind, table_id, obj, record_id, known)
        db.session.commit()
        outcome.created += len(batch)
    for start in range(0, len(to_update), BATCH):
        batch = to_update[start:start + BATCH]
        api.update(table_id, [(known[obj.id].record_id, kind.fields(obj)) for obj in batch])
        for obj in batch:
            _save(kind, table_id, obj, known[obj.id].record_id, known)
        db.session.commit()
        outcome.updated += len(batch)


def sync_kind(api: BitableApi, kind: Kind, table_id: str) -> Outcome:
    """Bring one kind's table up to date; errors are kept on the cursor and end this kind's run."""
    outcome = Outcome()
    cursor = _cursor(kind.name, table_id)
    try:
        # Objects already sent that may still change.
        open_ids = list(db.session.scalars(select(BitableRow.object_id).where(
            BitableRow.kind == kind.name, BitableRow.final.is_(False)).order_by(BitableRow.object_id)
            .limit(MAX_PER_RUN)))
        _sync_batch(api, kind, table_id, load(kind, open_ids), outcome)
        # Objects never sent, past the high-water mark, oldest first.
        seen = 0
        while seen < MAX_PER_RUN:
            ids = list(db.session.scalars(select(kind.model.id).where(kind.model.id > cursor.last_id)
                                          .order_by(kind.model.id).limit(BATCH)))
            if not ids:
                break
            _sync_batch(api, kind, table_id, load(kind, ids), outcome)
            cursor.last_id, cursor.updated_at = ids[-1], utcnow()
            db.session.commit()
            seen += len(ids)
        else:
            outcome.done = False
        cursor.last_error, cursor.updated_at = None, utcnow()
    except FeishuError as exc:
        db.session.rollback()
        outcome.error = f"{type(exc).__name__}: code {exc.code} {exc.msg}"[:1000]
        cursor = db.session.get(BitableCursor, kind.name) or cursor
        cursor.last_error, cursor.updated_at = outcome.error, utcnow()
        logger.warning("bitable export of %s stopped: %s", kind.name, outcome.error,
                       extra={"kind": kind.name, "table_id": table_id})
    db.session.commit()
    return outcome


def _sync_batch(api: BitableApi, kind: Kind, table_id: str, objects: list[Any], outcome: Outcome) -> None:
    if not objects:
        return
    known = {row.object_id: row for row in db.session.scalars(select(BitableRow).where(
        BitableRow.kind == kind.name, BitableRow.object_id.in_([obj.id for obj in objects])))}
    changed, unchanged = _changed(kind, objects, known)
    outcome.unchanged += unchanged
    _push(api, kind, table_id, changed, known, outcome)


def sync(api: BitableApi, tables: dict[str, str | None]) -> dict[str, Outcome]:
    """Sync every kind that has a table; one kind's failure does not stop the others."""
    return {name: sync_kind(api, KINDS[name], table_id) for name, table_id in tables.items() if table_id}
