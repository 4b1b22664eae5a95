"""Import history and undo of a whole import batch.

Every importer records a row in `import_batches` (who, what, when, counts, warnings) inside its own transaction
and tags the rows it added with the batch id; records it replaced are kept in `record_history`. Undo reverses one
batch in one transaction: it deletes the rows the batch added (with their techniques, samples, notes and STIX
identities), restores the versions it replaced, marks the batch undone and writes an audit entry.

Undo refuses, rather than guess, when a later batch has built on this one (it updated a record this batch added
or replaced): undo the later batch first. Taxonomy imports (ATLAS) are shared reference data and are not undone.

Who may see and undo: analysts their own batches; leads the batches of their institute; admins every batch. The
CLI acts as the store's operator (no viewer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from analytics.access.roles import ADMINS, RECORD_READERS, SIGNERS
from analytics.access.viewer import Viewer
from analytics.store import audit, incident_keys
from analytics.store.database import Store
from analytics.wording import counted

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False

NOT_UNDOABLE: frozenset[str] = frozenset({"atlas"})


class UndoRefused(ValueError):
    """The batch cannot be undone; the message says why and what to do."""


@dataclass(frozen=True)
class UndoReport:
    batch_id: str
    removed: int
    restored: int

    def summary(self) -> str:
        return f"undid {self.batch_id}: {counted(self.removed, 'record')} removed, {self.restored} earlier versions restored"


def _scope(viewer: Viewer | None) -> tuple[str, list[Any]]:
    if viewer is None or viewer.role in ADMINS:
        return "true", []
    if viewer.role in SIGNERS:  # a lead answers for their institute's imports
        return "(b.institute = ? or b.imported_by = ?)", [viewer.institute, viewer.email]
    return "b.imported_by = ?", [viewer.email]


def history(con: duckdb.DuckDBPyConnection, viewer: Viewer | None, *, limit: int = 200) -> pd.DataFrame:
    """Newest first: the batches this person may see (see module docstring)."""
    if viewer is not None:
        viewer.require(*RECORD_READERS)
    where, params = _scope(viewer)
    return con.execute(
        f"""
        select b.batch_id, b.kind, b.source, b.imported_by, b.institute, b."at", b.added, b.updated, b.unchanged,
               b.rejected, len(b.warnings) as n_warnings, b.warnings, b.undone_at, b.undone_by
        from import_batches b where {where}
        order by b."at" desc, b.batch_id limit ?
        """,
        [*params, int(limit)],
    ).df()


def _batch(con: duckdb.DuckDBPyConnection, viewer: Viewer | None, batch_id: str) -> tuple[Any, ...]:
    where, params = _scope(viewer)
    rows = con.execute(
        f"select b.batch_id, b.kind, b.undone_at from import_batches b where b.batch_id = ? and {where}",
        [batch_id, *params],
    ).fetchall()
    if not rows:
        # Not there and not yours look the same.
        raise UndoRefused(f"no import batch {batch_id!r} that you may undo")
    return tuple(rows[0])


def undo_batch(store: Store, batch_id: str, *, actor: str, viewer: Viewer | None = None) -> UndoReport:
    """Reverse one batch, all or nothing, and audit it."""
    if viewer is not None:
        audit.require(store, viewer, *RECORD_READERS, action="undo import", obj=f"batch:{batch_id}")
        actor = viewer.email
    with store.transaction() as con:
        _, kind, undone_at = _batch(con, viewer, batch_id)
        if undone_at is not None:
            raise UndoRefused(f"batch {batch_id} was already undone at {undone_at:%Y-%m-%d %H:%M}")
        if kind in NOT_UNDOABLE:
            raise UndoRefused(f"{kind} imports are shared reference data and cannot be undone")
        _refuse_if_built_on(con, batch_id)

        added_incidents = [
            r[0]
            for r in con.execute("select id from incidents where import_batch = ?", [batch_id]).fetchall()
        ]
        added_runs = [
            r[0]
            for r in con.execute("select run_id from eval_runs where import_batch = ?", [batch_id]).fetchall()
        ]
        incident_keys.remove_techniques(con, added_incidents)
        con.execute(
            "delete from incident_notes where incident_id = any(?) or import_batch = ?",
            [added_incidents, batch_id],
        )
        con.execute(
            "delete from stix_records where record_id = any(?) or import_batch = ?",
            [added_incidents, batch_id],
        )
        con.execute("delete from incidents where import_batch = ?", [batch_id])
        con.execute("delete from eval_samples where run_id = any(?)", [added_runs])
        con.execute("delete from eval_runs where import_batch = ?", [batch_id])

        restored = 0
        for record_id, previous in con.execute(
            "select record_id, previous from record_history where batch_id = ? and table_name = 'incidents' "
            "order by id desc",
            [batch_id],
        ).fetchall():
            _restore_incident(con, record_id, json.loads(previous))
            restored += 1
        con.execute("delete from record_history where batch_id = ?", [batch_id])
        con.execute(
            "update import_batches set undone_at = current_timestamp, undone_by = ? where batch_id = ?",
            [actor, batch_id],
        )
        removed = len(added_incidents) + len(added_runs)
        audit.record(
            con,
            actor,
            "undo import",
            f"batch:{batch_id}",
            {"kind": kind, "removed": removed, "restored": restored},
        )
    return UndoReport(batch_id, removed, restored)


def _refuse_if_built_on(con: duckdb.DuckDBPyConnection, batch_id: str) -> None:
    later = con.execute(
        """
        select h.batch_id, max(h.id) as newest from record_history h
        where h.batch_id <> $batch and (
            h.record_id in (select id from incidents where import_batch = $batch)
            or exists (
                select 1 from record_history mine
                where mine.batch_id = $batch and mine.record_id = h.record_id and h.id > mine.id
            )
        )
        group by h.batch_id
        order by newest desc
        """,
        {"batch": batch_id},
    ).fetchall()
    if later:
        names = ", ".join(r[0] for r in later)
        raise UndoRefused(
            f"later imports changed records of batch {batch_id} ({names}); undo those first, newest first"
        )


def _restore_incident(con: duckdb.DuckDBPyConnection, record_id: str, previous: dict[str, Any]) -> None:
    # Column names come from the live table (an allow-list), never from the stored JSON alone.
    allowed = _columns(con, "incidents")
    row = {c: v for c, v in previous["row"].items() if c in allowed}
    cols = list(row)
    incident_keys.remove_techniques(con, [record_id])
    con.execute("delete from incidents where id = ?", [record_id])
    con.execute(
        f"insert into incidents ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})",
        [row[c] for c in cols],
    )
    incident_keys.add_techniques(con, record_id, previous["techniques"])
    con.execute("delete from stix_records where record_id = ?", [record_id])
    stix_allowed = _columns(con, "stix_records")
    for s in previous.get("stix") or []:
        scols = [c for c in s if c in stix_allowed]
        con.execute(
            f"insert into stix_records ({', '.join(scols)}) values ({', '.join('?' for _ in scols)})",
            [s[c] for c in scols],
        )


_TABLES = {"incidents": "incidents", "stix_records": "stix_records"}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = ? and table_schema = 'main'",
        [_TABLES[table]],
    ).fetchall()
    return {r[0] for r in rows}
