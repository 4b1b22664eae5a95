"""Writing incidents from public sources (ATLAS case studies, the AI Incident Database) into the store.

Public sources own their records: a re-import brings them up to date and a record the source no longer has is
withdrawn. The rules that make imports safe to repeat live here, once, for both importers:

- rows are keyed on the source's own id; a row that has not changed is not touched (a second import of the same
  file changes nothing, not even `updated_at`);
- a marking is never lowered: an existing row keeps the higher TLP and the narrower releasability;
- the originator is `PUBLIC` (PUBLIC_ORIGINATOR), whoever imported it: public data is nobody's institute
  reporting, and `source` says which public source it came from (issue 15);
- the date's precision (day, month or year) is stored with it, so month- or year-precision dates are not
  counted as the 1st of the month;
- an id already used by another source is refused rather than overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from analytics.access.markings import tlp_rank
from analytics.ingest import ImportRefused
from analytics.records import INCIDENT_TYPES, arrow_schema
from analytics.sources import PUBLIC_ORIGINATOR
from analytics.store import incident_keys

# Columns a public importer supplies, in the order of PublicIncident's fields that map onto `incidents`.
_COMPARED: tuple[str, ...] = (
    "title",
    "summary",
    "occurred_on",
    "category",
    "severity",
    "actor_type",
    "sectors",
    "countries",
    "affected_system",
    "developer",
    "tags",
    "tlp",
    "releasable_to",
    "occurred_precision",
)


@dataclass
class PublicIncident:
    id: str
    title: str
    summary: str
    occurred_on: date
    category: str
    severity: int
    actor_type: str | None = None
    sectors: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    affected_system: str | None = None
    developer: str | None = None
    tags: list[str] = field(default_factory=list)
    tlp: str = "CLEAR"
    releasable_to: list[str] = field(default_factory=lambda: ["AU", "UK"])
    techniques: list[str] = field(default_factory=list)
    occurred_precision: str = "day"  # day, month or year: how much of occurred_on the source knows


@dataclass
class UpsertCounts:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    withdrawn: list[str] = field(default_factory=list)


def _stricter(existing: tuple[str, list[str]], new: tuple[str, list[str]]) -> tuple[str, list[str]]:
    """The more restrictive of two markings: higher TLP, intersection of releasability (never empty)."""
    tlp = existing[0] if tlp_rank(existing[0]) >= tlp_rank(new[0]) else new[0]
    rel = sorted(set(existing[1]) & set(new[1])) or sorted(existing[1])
    return tlp, rel


def upsert_public_incidents(
    con: duckdb.DuckDBPyConnection,
    rows: Sequence[PublicIncident],
    *,
    source: str,
    batch_id: str,
    file_label: str,
    withdraw_missing: bool = True,
) -> UpsertCounts:
    """Bring the store's `source` incidents in line with `rows`, inside the caller's transaction."""
    ids = [r.id for r in rows]
    _refuse_taken_ids(con, ids, source, file_label)
    existing, existing_tech = _stored(con, source)
    counts, inserts, updates = _compare(rows, existing, existing_tech)
    cols = ", ".join(_COMPARED)
    if inserts:
        con.register("public_new", _frame(inserts))
        con.execute(
            f"insert into incidents (id, {cols}, originator, source, import_batch) "
            f"select id, {cols}, ?, ?, ? from public_new",
            [PUBLIC_ORIGINATOR, source, batch_id],
        )
        con.unregister("public_new")
    if updates:
        con.register("public_upd", _frame(updates))
        sets = ", ".join(f"{c} = u.{c}" for c in _COMPARED)
        con.execute(
            f"update incidents set {sets}, updated_at = current_timestamp from public_upd u "
            "where incidents.id = u.id"
        )
        con.unregister("public_upd")
    _replace_techniques(con, [r for r in rows if r.id in set(counts.added) | set(counts.updated)])
    if withdraw_missing:
        gone = sorted(set(existing) - set(ids))
        if gone:
            incident_keys.remove_techniques(con, gone)
            con.execute("delete from incidents where list_contains(?::varchar[], id)", [gone])
            counts.withdrawn = gone
    return counts


def _refuse_taken_ids(con: duckdb.DuckDBPyConnection, ids: list[str], source: str, file_label: str) -> None:
    """Refuse ids repeated in the import, or already held by a record of another source."""
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ImportRefused(f"{file_label}: duplicate record ids {', '.join(dup[:5])}")
    clash = con.execute(
        "select id, source from incidents where list_contains(?::varchar[], id) and source <> ?",
        [ids, source],
    ).fetchall()
    if clash:
        raise ImportRefused(
            f"{file_label}: record id {clash[0][0]} already exists from source {clash[0][1]!r}; nothing was written"
        )


def _stored(
    con: duckdb.DuckDBPyConnection, source: str
) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]]]:
    """The stored `source` incidents (id -> compared columns) and their techniques (id -> technique ids)."""
    cols = ", ".join(_COMPARED)
    existing: dict[str, dict[str, Any]] = {}
    for row in con.execute(f"select id, {cols} from incidents where source = ?", [source]).fetchall():
        existing[row[0]] = dict(zip(_COMPARED, row[1:], strict=True))
    existing_tech: dict[str, set[str]] = {}
    for iid, tid in con.execute(
        "select it.incident_id, it.technique_id from incident_techniques it "
        "join incidents i on i.id = it.incident_id where i.source = ?",
        [source],
    ).fetchall():
        existing_tech.setdefault(iid, set()).add(tid)
    return existing, existing_tech


def _compare(
    rows: Sequence[PublicIncident],
    existing: dict[str, dict[str, Any]],
    existing_tech: dict[str, set[str]],
) -> tuple[UpsertCounts, list[dict[str, Any]], list[dict[str, Any]]]:
    """Counts, rows to insert and rows to update: an existing row keeps the stricter marking, and is updated
    only if a compared column or its techniques differ."""
    counts = UpsertCounts()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for r in rows:
        new = {c: getattr(r, c) for c in _COMPARED}
        new["sectors"] = sorted(set(r.sectors))
        new["countries"] = sorted(set(r.countries))
        new["tags"] = sorted(set(r.tags))
        new["releasable_to"] = sorted(r.releasable_to)
        old = existing.get(r.id)
        if old is None:
            inserts.append({"id": r.id, **new})
            counts.added.append(r.id)
            continue
        new["tlp"], new["releasable_to"] = _stricter(
            (old["tlp"], list(old["releasable_to"])), (new["tlp"], new["releasable_to"])
        )
        techniques_same = existing_tech.get(r.id, set()) == set(r.techniques)
        same = techniques_same and all(_same(old[c], new[c]) for c in _COMPARED)
        if same:
            counts.unchanged += 1
        else:
            updates.append({"id": r.id, **new})
            counts.updated.append(r.id)
    return counts, inserts, updates


def _replace_techniques(con: duckdb.DuckDBPyConnection, changed: list[PublicIncident]) -> None:
    """The added and updated incidents' techniques are exactly theirs."""
    if not changed:
        return
    changed_ids = [r.id for r in changed]
    incident_keys.remove_techniques(con, changed_ids)
    pairs = [(r.id, t) for r in changed for t in sorted(set(r.techniques))]
    if pairs:
        con.register("public_tech", pd.DataFrame(pairs, columns=["incident_id", "technique_id"]))
        incident_keys.add_techniques_from(con, "select incident_id, technique_id from public_tech")
        con.unregister("public_tech")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return list(a or []) == list(b or [])
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, date) and isinstance(b, date):
        return a == b
    return bool(a == b)


_SCHEMA = arrow_schema(("id", *_COMPARED), INCIDENT_TYPES)


def _frame(rows: list[dict[str, Any]]) -> pa.Table:
    """An Arrow table with explicit types, so empty lists and missing values reach DuckDB typed."""
    return pa.Table.from_pylist(rows, schema=_SCHEMA)
