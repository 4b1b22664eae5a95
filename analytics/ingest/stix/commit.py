"""Importing a checked bundle: add, update or leave each record in one transaction (all or nothing).

Why a module of its own: this is the only part of the STIX importer that reads or writes the store. Versions: a
STIX id seen before with the same `modified` is no change; a newer `modified` replaces the record, keeping the
previous version in `record_history` (so the batch can be undone) and never lowering its marking; a record that
originated in the other institute is never overwritten by this institute's bundle. Only records the importer may
see count as existing: an id held by a hidden record is treated as free and the hidden record is never read,
changed or named.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from analytics import records
from analytics.access.markings import TLP_LEVELS, visible_sql
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.ingest import (
    ImportRefused,
    ImportReport,
    id_namespace,
    importer_institute,
    new_batch_id,
    record_batch,
)
from analytics.ingest.stix.check import MAX_BYTES, check_bundle, refusal
from analytics.ingest.stix.objects import (
    Candidate,
    Note,
    build_candidates,
    naive_ms,
    new_incident_id,
    read_constants,
)
from analytics.store import audit, incident_keys
from analytics.store.database import Store

# What a STIX incident holds of `incidents` (the importer adds the batch), and the timestamps it keeps. `source`
# is the bundle's own (x_ukau_source: atlas, aiid, ...) or `stix` (objects.SOURCE_TAG).
_ROW_COLUMNS = (*records.INCIDENT_RECORD_COLUMNS, "source")
_ARROW_SCHEMA = records.arrow_schema((*_ROW_COLUMNS, "created_at", "updated_at"), records.INCIDENT_TYPES)


def existing_stix_ids(con: duckdb.DuckDBPyConnection, viewer: Viewer | None = None) -> set[str]:
    """STIX ids a bundle may refer to without including them: for a person, only those of records they may see,
    so a reference to a hidden record is refused exactly like one to a record that does not exist."""
    if viewer is None:
        return {r[0] for r in con.execute("select stix_id from stix_records").fetchall()}
    vis, params = visible_sql(viewer, "incidents", "i")
    rows = con.execute(
        f"select s.stix_id from stix_records s join incidents i on i.id = s.record_id where {vis}", params
    ).fetchall()
    return {r[0] for r in rows}


def import_stix(
    store: Store,
    path: Path | str,
    *,
    actor: str,
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
    constants: Mapping[str, str] | None = None,
    recipients: Sequence[str] | None = None,
) -> ImportReport:
    """CLI and inbox entry point. `constants` (--set FIELD=VALUE) fill fields the bundle leaves out (category,
    severity, sectors ...; never markings), `recipients` (--recipients) name the people of TLP:RED objects that
    name none."""
    p = Path(path)
    if p.stat().st_size > MAX_BYTES:
        raise ImportRefused(
            f"{p.name} is {p.stat().st_size / 1_048_576:.0f} MB; the limit is {MAX_BYTES / 1_048_576:.0f} MB"
        )
    return import_stix_bytes(
        store,
        p.name,
        p.read_bytes(),
        actor=actor,
        institute=institute,
        tlp=tlp,
        releasable=releasable,
        constants=constants,
        recipients=recipients,
    )


def import_stix_bytes(
    store: Store,
    name: str,
    data: bytes,
    *,
    actor: str,
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
    viewer: Viewer | None = None,
    constants: Mapping[str, str] | None = None,
    recipients: Sequence[str] | None = None,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> ImportReport:
    """Check the bundle, then add, update or leave each record in one transaction (all or nothing). `also` writes
    the caller's own bookkeeping in that same transaction (the TAXII sync's record of what it pulled), so the
    records and the bookkeeping commit together or not at all."""
    fixed, named = read_constants(constants, recipients)
    if viewer is not None:
        audit.require(store, viewer, *RECORD_READERS, action="import", obj=f"file:{name}")
        actor = viewer.email
    institute = importer_institute(viewer, institute)
    namespace = id_namespace(viewer, institute)
    if viewer is not None and institute is None:
        raise ImportRefused(f"{Path(name).name}: choose the originating institute for the import (UK or AU)")
    con = store.cursor()
    try:
        known = existing_stix_ids(con, viewer)
    finally:
        con.close()
    check = check_bundle(name, data, known_ids=known)
    if not check.ok:
        raise ImportRefused(refusal(check.name, check.reasons))
    candidates, notes, reasons = build_candidates(
        check,
        institute=institute,
        tlp=tlp,
        releasable=releasable,
        namespace=namespace,
        operator_replica=viewer is None and institute is None,
        constants=fixed,
        recipients=named,
    )
    if reasons:
        raise ImportRefused(refusal(check.name, reasons))
    if not candidates and not notes:
        raise ImportRefused(f"{check.name}: no incidents or reports to import ({check.summary()})")

    if institute is None:
        # The batch belongs to the institute whose records it holds (for history and undo by its leads).
        owners = {c.row["originator"] for c in candidates}
        institute = owners.pop() if len(owners) == 1 else None
    report = ImportReport(kind="stix", source=check.name, batch_id=new_batch_id("stix"))
    report.warnings = list(check.warnings)
    report.details = {"objects": dict(check.counts)}
    with store.transaction() as tx:
        _apply(
            tx, candidates, notes, report, actor=actor, viewer=viewer, institute=institute, name=check.name
        )
        record_batch(tx, report, actor=actor, institute=institute)
        if also is not None:
            also(tx)
        audit.record(
            tx,
            actor,
            "import",
            f"batch:{report.batch_id}",
            {
                "kind": "stix",
                "file": check.name,
                "added": report.added,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected": report.rejected,
            },
        )
    return report


class _Held(NamedTuple):
    """What the store holds for one candidate: its STIX id's record (s_), the incident of that record (e_), the
    incident with the candidate's record id (inc_) and the one with the id the bundle claimed (claimed_)."""

    stix_id: str
    has_stix: bool
    stix_record: str | None
    stix_modified: datetime | None
    stix_rec_exists: bool
    stix_rec_visible: bool
    stix_rec_originator: str | None
    inc_exists: bool
    inc_visible: bool
    inc_originator: str | None
    inc_updated: datetime | None
    tlp: str | None
    releasable_to: list[str] | None
    named_recipients: list[str] | None
    claimed_visible: bool
    claimed_originator: str | None


def _held(
    con: duckdb.DuckDBPyConnection, candidates: list[Candidate], viewer: Viewer | None
) -> dict[str, _Held]:
    """What the store holds for each candidate, by STIX id; visibility as the importer may see."""
    ids = pa.table(
        {
            "stix_id": pa.array([c.stix_id for c in candidates], pa.string()),
            "record_id": pa.array([c.record_id for c in candidates], pa.string()),
            "claimed_id": pa.array([c.claimed_id for c in candidates], pa.string()),
        }
    )

    def seen_as(alias: str) -> tuple[str, dict[str, Any]]:
        return visible_sql(viewer, "incidents", alias) if viewer is not None else ("true", {})

    vis, params = seen_as("i")
    vis_s, _ = seen_as("e")  # same parameters: the viewer's
    vis_k, _ = seen_as("x")
    con.register("stix_candidates", ids)
    try:
        rows = con.execute(
            f"""
            select c.stix_id,
                   s.stix_id is not null, s.record_id, s.modified,
                   e.id is not null, coalesce({vis_s}, false), e.originator,
                   i.id is not null, coalesce({vis}, false), i.originator, i.updated_at,
                   i.tlp, i.releasable_to, i.named_recipients,
                   x.id is not null and coalesce({vis_k}, false), x.originator
            from stix_candidates c
            left join stix_records s on s.stix_id = c.stix_id
            left join incidents e on e.id = s.record_id
            left join incidents i on i.id = c.record_id
            left join incidents x on x.id = c.claimed_id
            """,
            params,
        ).fetchall()
    finally:
        con.unregister("stix_candidates")
    return {r[0]: _Held(*r) for r in rows}


def _ownership_refusals(candidates: list[Candidate], state: Mapping[str, _Held]) -> list[str]:
    """An update may only touch records of the importer's own institute: each candidate that would change a
    visible record of the other institute, named."""
    reasons: list[str] = []
    for c in candidates:
        h = state[c.stix_id]
        own = c.row["originator"]  # the importer's institute (see build_candidates)
        if h.has_stix and h.stix_rec_exists and h.stix_rec_visible and h.stix_rec_originator != own:
            reasons.append(
                f"{c.stix_id}: this STIX object is a record of {h.stix_rec_originator}; an import for {own} may "
                f"only change records of {own}"
            )
        elif h.claimed_visible and h.claimed_originator != own:
            reasons.append(
                f"{c.stix_id}: x_ukau_id {c.claimed_id} is a record of {h.claimed_originator}; an import for "
                f"{own} may only change records of {own}"
            )
    return reasons


def _apply(
    con: duckdb.DuckDBPyConnection,
    candidates: list[Candidate],
    notes: list[Note],
    report: ImportReport,
    *,
    actor: str,
    viewer: Viewer | None,
    institute: str | None,
    name: str,
) -> None:
    """Add, update or leave each candidate. Only records the importer may see count as existing: a STIX id or
    record id held by a hidden record is treated as free (the hidden record is never read, changed or named).
    An update, and a note, may only touch records of the importer's own institute; a bundle that would change
    a visible record of the other institute is refused, naming the object."""
    state = _held(con, candidates, viewer)
    # Refusals first, so nothing is written when one applies (the caller's transaction is all or nothing).
    reasons = _ownership_refusals(candidates, state)
    if reasons:
        raise ImportRefused(refusal(name, reasons))
    new: list[Candidate] = []
    accepted: dict[str, str] = {}
    stix_taken: set[str] = set()
    seen_records: set[str] = set()
    for c in candidates:
        h = state[c.stix_id]
        known_stix = h.has_stix and (h.stix_rec_visible or not h.stix_rec_exists)
        if h.has_stix and h.stix_rec_exists and not h.stix_rec_visible:
            stix_taken.add(c.stix_id)  # held by a record this person may not see: as if it were free
        inc_exists, current = _resolve_record(con, c, h, known_stix, institute)
        if c.record_id in seen_records:
            report.rejected += 1
            report.warnings.append(
                f"{c.stix_id}: a second object for record {c.record_id} in this bundle; skipped"
            )
            continue
        seen_records.add(c.record_id)
        if not inc_exists:
            new.append(c)
            accepted[c.stix_id] = c.record_id
            continue
        if not known_stix and c.stix_id not in stix_taken and c.origin == "EXTERNAL":
            # An outside object whose id collides with a record of ours made here: never merge the two.
            report.rejected += 1
            report.warnings.append(f"{c.stix_id}: not imported, its id is already in use")
            continue
        accepted[c.stix_id] = c.record_id
        assert current is not None
        if c.modified <= current:
            report.unchanged += 1
            if c.modified < current:
                report.warnings.append(f"{c.stix_id}: an older version than the one held; kept the newer one")
            continue
        marks = [h.tlp, h.releasable_to, h.named_recipients]
        _update(
            con, c, marks, report, actor=actor, had_stix=known_stix, record_stix=c.stix_id not in stix_taken
        )
    if new:
        _insert(con, new, report.batch_id, skip_stix=stix_taken)
        report.added += len(new)
    _insert_notes(con, notes, accepted, report, viewer=viewer, institute=institute, name=name)


def _resolve_record(
    con: duckdb.DuckDBPyConnection, c: Candidate, h: _Held, known_stix: bool, institute: str | None
) -> tuple[bool, datetime | None]:
    """Which record the candidate is (setting c.record_id), whether it exists, and its current version."""
    if known_stix and h.stix_rec_exists:
        # the record this STIX id was imported as before, visible to the importer
        c.record_id = str(h.stix_record)
        c.row["id"] = c.record_id
        assert h.stix_modified is not None
        return True, naive_ms(h.stix_modified)
    if known_stix:  # its record was removed (undone) since; bring it back as new
        con.execute("delete from stix_records where stix_id = ?", [c.stix_id])
        c.record_id = str(h.stix_record)
        c.row["id"] = c.record_id
        return False, None
    if h.inc_exists and not h.inc_visible:
        # the id is held by a record hidden from the importer (made before ids were namespaced): a new id
        c.record_id = new_incident_id(institute)
        c.row["id"] = c.record_id
        return False, None
    return bool(h.inc_exists), (naive_ms(h.inc_updated) if h.inc_exists and h.inc_updated else None)


def _insert(
    con: duckdb.DuckDBPyConnection, new: list[Candidate], batch: str, *, skip_stix: set[str] | None = None
) -> None:
    cols: dict[str, list[Any]] = {name: [] for name in _ARROW_SCHEMA.names}
    for c in new:
        for name in _ROW_COLUMNS:
            cols[name].append(c.row.get(name))
        cols["created_at"].append(c.created)
        cols["updated_at"].append(c.modified)
    table = pa.table({n: pa.array(v, type=_ARROW_SCHEMA.field(n).type) for n, v in cols.items()})
    techs = pa.table(
        {
            "incident_id": pa.array([c.record_id for c in new for _ in c.techniques], pa.string()),
            "technique_id": pa.array([t for c in new for t in c.techniques], pa.string()),
        }
    )
    # A STIX id already held by a record hidden from the importer keeps pointing there; the new record is found
    # again by its own id next time.
    mapped = [(c.stix_id, c) for c in new if c.stix_id not in (skip_stix or set())]
    # The third-party objects a record was derived from are its ids too (a later export names them again, and the
    # same MISP event sent directly finds this record), unless one is already some record's id.
    derived = [(d, c) for c in new for d in c.derived_from]
    if derived:
        held = {
            r[0]
            for r in con.execute(
                "select stix_id from stix_records where stix_id = any(?)", [[d for d, _ in derived]]
            ).fetchall()
        }
        mapped += [(d, c) for d, c in derived if d not in held and d not in {m for m, _ in mapped}]
    records = pa.table(
        {
            "stix_id": pa.array([sid for sid, _ in mapped], pa.string()),
            "record_id": pa.array([c.record_id for _, c in mapped], pa.string()),
            "object_type": pa.array([sid.split("--")[0] for sid, _ in mapped], pa.string()),
            "created": pa.array([c.created for _, c in mapped], pa.timestamp("us")),
            "modified": pa.array([c.modified for _, c in mapped], pa.timestamp("us")),
            "origin": pa.array(
                [c.origin if sid == c.stix_id else "EXTERNAL" for sid, c in mapped], pa.string()
            ),
        }
    )
    con.register("stix_new_incidents", table)
    con.register("stix_new_techniques", techs)
    con.register("stix_new_records", records)
    try:
        columns = ", ".join((*_ROW_COLUMNS, "created_at", "updated_at"))
        con.execute(
            f"insert into incidents ({columns}, import_batch) select {columns}, $batch from stix_new_incidents",
            {"batch": batch},
        )
        incident_keys.add_techniques_from(con, "select incident_id, technique_id from stix_new_techniques")
        con.execute(
            "insert into stix_records (stix_id, record_id, object_type, created, modified, origin, import_batch) "
            "select stix_id, record_id, object_type, created, modified, origin, $batch from stix_new_records",
            {"batch": batch},
        )
    finally:
        for name in ("stix_new_incidents", "stix_new_techniques", "stix_new_records"):
            con.unregister(name)


def snapshot_incident(con: duckdb.DuckDBPyConnection, record_id: str) -> dict[str, Any]:
    """The whole stored state of one incident (row, techniques, STIX record), for history and undo."""
    cur = con.execute("select * from incidents where id = ?", [record_id])
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    assert rows, record_id
    row = rows[0]
    techniques = [
        r[0]
        for r in con.execute(
            "select technique_id from incident_techniques where incident_id = ? order by 1", [record_id]
        ).fetchall()
    ]
    stix_cur = con.execute("select * from stix_records where record_id = ?", [record_id])
    stix_names = [d[0] for d in stix_cur.description]
    stix_rows = [dict(zip(stix_names, r, strict=True)) for r in stix_cur.fetchall()]
    return {"row": dict(zip(names, row, strict=True)), "techniques": techniques, "stix": stix_rows}


def _update(
    con: duckdb.DuckDBPyConnection,
    c: Candidate,
    marks: list[Any],
    report: ImportReport,
    *,
    actor: str,
    had_stix: bool,
    record_stix: bool = True,
) -> None:
    old_tlp, old_rel, old_named = marks
    previous = snapshot_incident(con, c.record_id)
    con.execute(
        "insert into record_history (table_name, record_id, batch_id, previous, replaced_by) "
        "values ('incidents', ?, ?, ?, ?)",
        [c.record_id, report.batch_id, json.dumps(previous, default=str), actor],
    )
    row = dict(c.row)
    # Never lower a marking: keep the higher TLP, the narrower releasability, and RED's recipients.
    if TLP_LEVELS.index(old_tlp) > TLP_LEVELS.index(row["tlp"]):
        report.warnings.append(f"{c.stix_id}: kept TLP:{old_tlp}; the update says TLP:{row['tlp']}")
        row["tlp"] = old_tlp
    narrowed = sorted(set(row["releasable_to"]) & set(old_rel))
    if narrowed != sorted(row["releasable_to"]):
        report.warnings.append(f"{c.stix_id}: kept releasability {', '.join(narrowed)}")
    row["releasable_to"] = narrowed
    if old_tlp == "RED" and old_named:
        row["named_recipients"] = list(old_named)
    if not narrowed:
        raise ImportRefused(f"{c.stix_id}: the update would leave record {c.record_id} releasable to nobody")
    row["id"] = c.record_id
    assignments = ", ".join(f"{col} = ${col}" for col in _ROW_COLUMNS if col != "id")
    con.execute(
        f"update incidents set {assignments}, updated_at = $modified where id = $id",
        {**{col: row.get(col) for col in _ROW_COLUMNS}, "modified": c.modified},
    )
    incident_keys.remove_techniques(con, [c.record_id])
    incident_keys.add_techniques(con, c.record_id, c.techniques)
    if had_stix:
        con.execute("update stix_records set modified = ? where stix_id = ?", [c.modified, c.stix_id])
    elif record_stix:
        con.execute(
            "insert into stix_records (stix_id, record_id, object_type, created, modified, origin, import_batch) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [c.stix_id, c.record_id, c.obj["type"], c.created, c.modified, c.origin, report.batch_id],
        )
    report.updated += 1


def _insert_notes(
    con: duckdb.DuckDBPyConnection,
    notes: list[Note],
    record_for: Mapping[str, str],
    report: ImportReport,
    *,
    viewer: Viewer | None,
    institute: str | None,
    name: str,
) -> None:
    """Notes about records of this bundle that were imported, or about records the importer may see that belong
    to their own institute (a note travels with the record into its owner's partner export, so adding one is a
    change). A note about a visible record of the other institute refuses the bundle; a note about a record the
    importer may not see was already refused by check_bundle exactly like one about a missing record."""
    if not notes:
        return
    existing = {
        (r[0], r[1]) for r in con.execute("select stix_id, incident_id from incident_notes").fetchall()
    }
    vis, params = visible_sql(viewer, "incidents", "i") if viewer is not None else ("true", {})
    rows = []
    reasons = []
    for note_id, target, obj in notes:
        record_id = record_for.get(target)
        if record_id is None:
            hits = con.execute(
                f"select s.record_id, i.originator from stix_records s join incidents i on i.id = s.record_id "
                f"where s.stix_id = $target and {vis}",
                {**params, "target": target},
            ).fetchall()
            if hits and institute is not None and hits[0][1] != institute:
                reasons.append(
                    f"{note_id}: {target} is a record of {hits[0][1]}; an import for {institute} may only add "
                    f"notes to records of {institute}"
                )
                continue
            record_id = hits[0][0] if hits else None
        if record_id is None or (note_id, record_id) in existing:
            continue
        existing.add((note_id, record_id))
        author = obj.get("authors")
        rows.append(
            [
                note_id,
                record_id,
                ", ".join(author) if isinstance(author, list) else author,
                obj.get("abstract"),
                obj["content"],
                naive_ms(obj["created"]),
                report.batch_id,
            ]
        )
    if reasons:
        raise ImportRefused(refusal(name, reasons))
    if rows:
        con.executemany(
            "insert into incident_notes (stix_id, incident_id, author, abstract, content, created, import_batch) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        report.details["notes"] = len(rows)
