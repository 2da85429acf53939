"""Mirror alerts, incidents and executions into the Bitable named in the inventory (exports.bitable).

Upserts by our id: a record is created once (its record_id kept in bitable_rows) and
updated when its fields change. New objects are found past a high-water mark
(bitable_cursors.last_id), changed ones among those not yet final (an alert until it
resolves, an incident until it is closed, an execution until it finishes). Every batch
is committed as soon as Bitable accepted it, so a failed or killed run resumes where it
stopped. No duplicates: the ids of a batch_create in flight are recorded first
(bitable_cursors.pending) and looked up in the table by the next run if the answer was
never recorded; and a kind's first run into a table adopts the records already there.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, inspect, select

from app.exports.bitable_api import BATCH, ID_FIELD, BitableApi
from app.exports.models import BitableCursor, BitableRow
from app.exports.records import KINDS, Kind, load
from app.feishu.errors import FeishuError
from app.infra.db import db, utcnow

logger = logging.getLogger(__name__)

RECORD_NOT_FOUND = 1254043  # Bitable's RecordIdNotFound: someone deleted the record in the table
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


def _cursor(api: BitableApi, kind: Kind, table_id: str) -> BitableCursor:
    """The kind's cursor; a new table starts over, adopting the records of ours it already holds."""
    cursor = db.session.get(BitableCursor, kind.name)
    if cursor is not None and cursor.table_id == table_id:
        return cursor
    existing = api.all_ids(table_id)  # before any change here: a failure leaves everything as it was
    if cursor is None:
        cursor = BitableCursor(kind=kind.name, table_id=table_id, last_id=0, updated_at=utcnow())
        db.session.add(cursor)
    db.session.execute(delete(BitableRow).where(BitableRow.kind == kind.name))
    cursor.table_id, cursor.last_id, cursor.pending = table_id, 0, None
    _adopt(kind, table_id, existing)
    db.session.commit()
    return cursor


def _adopt(kind: Kind, table_id: str, existing: dict[str, str]) -> None:
    """Rows for the table's records that name one of our objects (digest unknown: they get updated)."""
    by_object: dict[int, str] = {}
    for our_id, record_id in existing.items():
        number = our_id.removeprefix(kind.prefix)
        if our_id.startswith(kind.prefix) and number.isdigit():
            by_object.setdefault(int(number), record_id)
    ids = sorted(by_object)
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        for object_id in db.session.scalars(select(kind.model.id).where(kind.model.id.in_(chunk))):
            db.session.add(BitableRow(kind=kind.name, object_id=object_id, table_id=table_id,
                                      record_id=by_object[object_id], digest="", final=False, exported_at=utcnow()))


@dataclass(frozen=True)
class Snapshot:
    """An object's fields taken once (commits expire the ORM objects; reloading each costs a query)."""

    id: int
    fields: dict[str, Any]
    final: bool

    @property
    def our_id(self) -> str:
        return str(self.fields[ID_FIELD])


def _save(kind: Kind, table_id: str, snap: Snapshot, record_id: str, known: dict[int, BitableRow]) -> None:
    row = known.get(snap.id)
    if row is None:
        row = BitableRow(kind=kind.name, object_id=snap.id, table_id=table_id, record_id=record_id)
        db.session.add(row)
        known[snap.id] = row
    row.record_id, row.digest, row.final, row.exported_at = record_id, digest(snap.fields), snap.final, utcnow()


def _forget_deleted(api: BitableApi, kind: Kind, table_id: str, batch: list[Snapshot],
                    known: dict[int, BitableRow]) -> list[Snapshot]:
    """The snapshots whose records someone deleted in Bitable; their rows are dropped so they are created again."""
    present = set(api.all_ids(table_id).values())
    gone = [snap for snap in batch if known[snap.id].record_id not in present]
    for snap in gone:
        row = known.pop(snap.id)
        if inspect(row).persistent:
            db.session.delete(row)
        else:
            db.session.expunge(row)
    db.session.commit()
    logger.warning("%d %s deleted in Bitable; creating them again", len(gone), kind.name,
                   extra={"table_id": table_id})
    return gone


def _push(api: BitableApi, kind: Kind, cursor: BitableCursor, snaps: list[Snapshot], known: dict[int, BitableRow],
          outcome: Outcome) -> None:
    """Create or update objects in batches, committing after each batch Bitable accepted."""
    table_id = cursor.table_id
    in_doubt = set(cursor.pending or ())
    ids = {snap.id for snap in snaps}
    new = [snap for snap in snaps if snap.id not in known and snap.id in in_doubt]
    if new:
        existing = api.find(table_id, [snap.our_id for snap in new])
        for snap in new:
            if record_id := existing.get(snap.our_id):  # sent by a run that died before recording it
                known[snap.id] = BitableRow(kind=kind.name, object_id=snap.id, table_id=table_id,
                                            record_id=record_id, digest="")
                db.session.add(known[snap.id])
    to_create = [snap for snap in snaps if snap.id not in known]
    to_update = [snap for snap in snaps if snap.id in known]
    for start in range(0, len(to_update), BATCH):
        batch = to_update[start:start + BATCH]
        try:
            api.update(table_id, [(known[snap.id].record_id, snap.fields) for snap in batch])
        except FeishuError as exc:
            if exc.code != RECORD_NOT_FOUND:
                raise
            gone = _forget_deleted(api, kind, table_id, batch, known)
            to_create += gone
            batch = [snap for snap in batch if snap not in gone]
            if batch:
                api.update(table_id, [(known[snap.id].record_id, snap.fields) for snap in batch])
        for snap in batch:
            _save(kind, table_id, snap, known[snap.id].record_id, known)
        db.session.commit()
        outcome.updated += len(batch)
    for start in range(0, len(to_create), BATCH):
        batch = to_create[start:start + BATCH]
        cursor.pending = sorted(in_doubt | {snap.id for snap in batch})
        db.session.commit()  # recorded before the call, so a lost answer is looked up, not repeated
        record_ids = api.create(table_id, [snap.fields for snap in batch])
        for snap, record_id in zip(batch, record_ids, strict=True):
            _save(kind, table_id, snap, record_id, known)
        in_doubt -= ids
        cursor.pending = sorted(in_doubt) or None
        db.session.commit()
        outcome.created += len(batch)
    if in_doubt & ids:  # all looked up and found: nothing left in doubt
        in_doubt -= ids
        cursor.pending = sorted(in_doubt) or None
        db.session.commit()


def sync_kind(api: BitableApi, kind: Kind, table_id: str) -> Outcome:
    """Bring one kind's table up to date; errors are kept on the cursor and end this kind's run."""
    outcome = Outcome()
    try:
        cursor = _cursor(api, kind, table_id)
        # Objects already sent that may still change.
        open_ids = list(db.session.scalars(select(BitableRow.object_id).where(
            BitableRow.kind == kind.name, BitableRow.final.is_(False)).order_by(BitableRow.object_id)
            .limit(MAX_PER_RUN)))
        _sync_batch(api, kind, cursor, load(kind, open_ids), outcome)
        # Objects never sent, past the high-water mark, oldest first.
        seen = 0
        while seen < MAX_PER_RUN:
            ids = list(db.session.scalars(select(kind.model.id).where(kind.model.id > cursor.last_id)
                                          .order_by(kind.model.id).limit(BATCH)))
            if not ids:
                break
            _sync_batch(api, kind, cursor, load(kind, ids), outcome)
            cursor.last_id, cursor.updated_at = ids[-1], utcnow()
            db.session.commit()
            seen += len(ids)
        else:
            outcome.done = False
        cursor.last_error, cursor.updated_at = None, utcnow()
    except FeishuError as exc:
        db.session.rollback()
        outcome.error = f"{type(exc).__name__}: code {exc.code} {exc.msg}"[:1000]
        stored = db.session.get(BitableCursor, kind.name)
        if stored is not None:
            stored.last_error, stored.updated_at = outcome.error, utcnow()
        logger.warning("bitable export of %s stopped: %s", kind.name, outcome.error,
                       extra={"kind": kind.name, "table_id": table_id})
    db.session.commit()
    return outcome


def _sync_batch(api: BitableApi, kind: Kind, cursor: BitableCursor, objects: list[Any], outcome: Outcome) -> None:
    if not objects:
        return
    snaps = [Snapshot(obj.id, kind.fields(obj), kind.final(obj)) for obj in objects]
    known = {row.object_id: row for row in db.session.scalars(select(BitableRow).where(
        BitableRow.kind == kind.name, BitableRow.object_id.in_([snap.id for snap in snaps])))}
    changed = [snap for snap in snaps if snap.id not in known or known[snap.id].digest != digest(snap.fields)]
    outcome.unchanged += len(snaps) - len(changed)
    _push(api, kind, cursor, changed, known, outcome)


def sync(api: BitableApi, tables: dict[str, str | None]) -> dict[str, Outcome]:
    """Sync every kind that has a table; one kind's failure does not stop the others."""
    return {name: sync_kind(api, KINDS[name], table_id) for name, table_id in tables.items() if table_id}
