"""Commit: a validated plan written in one transaction, with its batch record and an audit entry.

Why a module of its own: this is the only step that writes. It refuses a plan with problems unless the analyst
explicitly asked for the valid rows only, refuses a plan made for another institute, and checks again (inside the
transaction) that no id was taken since validation. `import_tabular` runs read, map, validate and commit in one
call for the CLI and the inbox; the Data page calls the steps one by one so the analyst sees the plan first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from analytics import records
from analytics.access.markings import INSTITUTES
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.ingest import ImportRefused, ImportReport, new_batch_id, record_batch, source_name
from analytics.ingest.stix.commit import snapshot_incident
from analytics.ingest.tabular.duplicates import existing_ids
from analytics.ingest.tabular.fields import Progress, Target
from analytics.ingest.tabular.mapping import (
    apply_mapping,
    detect_target,
    save_mapping,
    source_key_for,
    suggest_mapping,
)
from analytics.ingest.tabular.plan import ImportPlan, grouped_problems
from analytics.ingest.tabular.read import TabularFile, read_path
from analytics.ingest.tabular.validate import validate
from analytics.store import audit, incident_keys
from analytics.store.database import Store
from analytics.wording import counted

# What a spreadsheet row holds of each table: the record's own columns (the importer adds source and batch).
_INCIDENT_COLUMNS = records.column_list(records.INCIDENT_RECORD_COLUMNS)
# A date given without its precision is taken at its word: known to the day.
_INCIDENT_VALUES = _INCIDENT_COLUMNS.replace("occurred_precision", "coalesce(occurred_precision, 'day')")
_EVAL_COLUMNS = records.column_list(records.EVAL_RUN_RECORD_COLUMNS)


def commit(
    store: Store,
    plan: ImportPlan,
    *,
    actor: str,
    viewer: Viewer | None = None,
    only_valid: bool = False,
    remember_mapping: bool = True,
    progress: Progress | None = None,
) -> ImportReport:
    """Write the plan's valid rows in one transaction, with the batch record and an audit entry.

    A plan with problems is refused unless `only_valid` (the analyst's explicit choice); a plan with problems
    about the whole file (no mapping for a required field, no marking) is always refused.
    """
    if viewer is not None:
        viewer.require(*RECORD_READERS)
        actor = viewer.email
        if viewer.institute in INSTITUTES and plan.institute != viewer.institute:
            # A plan validated for another institute (or for none) would record the wrong origin.
            raise ImportRefused(
                f"{plan.file.name}: validated for {plan.institute or 'no institute'}, but you import for "
                f"{viewer.institute}; validate it again"
            )
    if plan.file_level_problems or (plan.problems and not only_valid):
        raise ImportRefused(refusal_text(plan))
    if plan.rows.num_rows == 0:
        raise ImportRefused(f"{plan.file.name}: no valid rows to import")
    kind = plan.file.format
    report = ImportReport(kind=kind, source=plan.file.name, batch_id=new_batch_id(kind))
    report.rejected = len(plan.rejected_rows)
    report.warnings = list(plan.warnings)
    if report.rejected:
        report.warnings.append(
            f"{counted(report.rejected, 'row')} rejected and not imported (rows {_ranges(plan.rejected_rows)})"
        )
    if plan.unmapped:
        report.warnings.append(unmapped_text(plan.unmapped))
    report.details = {
        "target": plan.target,
        "encoding": plan.file.encoding,
        "sha256": plan.file.sha256,
        "source": plan.source,
    }
    institute = _batch_institute(plan, viewer)
    if progress:
        progress("writing", 0.5)
    with store.transaction() as con:
        n = plan.rows.num_rows
        table = plan.rows.append_column("import_batch", pa.array([report.batch_id] * n, pa.string()))
        table = table.append_column("source", pa.array([plan.source] * n, pa.string()))
        table = _replace_updated(con, plan, table, report, actor)
        _write_rows(con, plan, table, viewer)
        report.added = table.num_rows - report.updated
        record_batch(con, report, actor=actor, institute=institute)
        if remember_mapping and plan.mapping and institute:
            save_mapping(con, plan.source_key, plan.target, institute, plan.mapping, actor)
        audit.record(
            con,
            actor,
            "import",
            f"batch:{report.batch_id}",
            {
                "kind": kind,
                "target": plan.target,
                "file": plan.file.name,
                "added": report.added,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected": report.rejected,
                "only_valid": only_valid,
                "marking": plan.marking.label,
            },
        )
        if progress:
            progress("committing", 0.9)
    if progress:
        progress("done", 1.0)
    return report


def _batch_institute(plan: ImportPlan, viewer: Viewer | None) -> str | None:
    """The institute the batch belongs to (for history and undo by its leads): the plan's, the importer's, or
    for the operator's replica the one institute whose records it holds."""
    institute = plan.institute or (viewer.institute if viewer and viewer.institute in INSTITUTES else None)
    if institute is None:
        owners = set(
            plan.rows.column("originator" if plan.target == "incidents" else "institute").to_pylist()
        )
        institute = owners.pop() if len(owners) == 1 and owners <= set(INSTITUTES) else None
    return institute


def _write_rows(
    con: duckdb.DuckDBPyConnection, plan: ImportPlan, table: pa.Table, viewer: Viewer | None
) -> None:
    """Insert the plan's rows (and an incident's techniques), refusing if an id was taken since validation."""
    con.register("tabular_rows", table)
    try:
        id_field = "id" if plan.target == "incidents" else "run_id"
        replacing = set(plan.updates)
        written = [i for i in table.column(id_field).to_pylist() if i not in replacing]
        clash = existing_ids(con, plan.target, written, viewer)
        if clash:  # written by someone else since validation
            raise ImportRefused(
                f"{plan.file.name}: {len(clash)} ids were added to the store since validation "
                f"(e.g. {clash[0]!r}); validate again"
            )
        if plan.target == "incidents":
            _insert_rows(
                con,
                plan.file.name,
                f"insert into incidents ({_INCIDENT_COLUMNS}, source, import_batch) "
                f"select {_INCIDENT_VALUES}, source, import_batch from tabular_rows",
            )
            incident_keys.add_techniques_from(
                con, "select id as incident_id, unnest(techniques) as technique_id from tabular_rows"
            )
        else:
            _insert_rows(
                con,
                plan.file.name,
                f"insert into eval_runs ({_EVAL_COLUMNS}, source, import_batch) "
                f"select {_EVAL_COLUMNS}, source, import_batch from tabular_rows",
            )
    finally:
        con.unregister("tabular_rows")


def _insert_rows(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    """Insert, turning a key clash into a plain refusal. Ids are namespaced per importer and new ones random, so
    only a record made before that rule, in the importer's own namespace and hidden from them, can clash here;
    the message then says nothing about it (no id, no count)."""
    try:
        con.execute(sql)
    except duckdb.ConstraintException:
        raise ImportRefused(f"{name}: could not be written; nothing was saved") from None


def _ranges(rows: list[int]) -> str:
    parts: list[str] = []
    start = prev = None
    for r in rows:
        if start is None:
            start = prev = r
        elif prev is not None and r == prev + 1:
            prev = r
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = r
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    text = ", ".join(parts[:20])
    return text + (", ..." if len(parts) > 20 else "")


def refusal_text(plan: ImportPlan, limit: int = 30) -> str:
    """What a refused plan says: the counts (data rows, counted from 1 after the header), one line per distinct
    problem with its first rows, and the columns nothing was taken from."""
    lines = [
        f"{plan.file.name}: {counted(len(plan.problems), 'problem')} in {len(plan.rejected_rows)} of {len(plan.file.rows)} "
        "rows"
        + (" and in the file as a whole" if plan.file_level_problems else "")
        + (" (row 1 is the line after the header)" if plan.file.format == "csv" else "")
    ]
    lines += grouped_problems(plan.problems, limit)
    if plan.unmapped:
        lines.append(unmapped_text(plan.unmapped))
    return "\n".join(lines)


def unmapped_text(columns: Sequence[str], most: int = 15) -> str:
    shown = ", ".join(repr(c if len(c) <= 60 else c[:57] + "...") for c in columns[:most])
    more = f" and {len(columns) - most} more" if len(columns) > most else ""
    return f"unmapped columns: {shown}{more} (not imported; --map COLUMN=FIELD to use one)"


_COMPARED_INCIDENT = tuple(c for c in records.INCIDENT_RECORD_COLUMNS if c != "techniques")


def _replace_updated(
    con: duckdb.DuckDBPyConnection, plan: ImportPlan, table: pa.Table, report: ImportReport, actor: str
) -> pa.Table:
    """--update: for each valid row whose id is stored, the same content and marking is left alone (counted
    unchanged and dropped from `table`); a changed one is moved to record_history (undo restores it) and
    deleted, so the insert that follows writes the new version (counted updated)."""
    if not plan.updates:
        return table
    id_field = "id" if plan.target == "incidents" else "run_id"
    columns = (
        records.INCIDENT_RECORD_COLUMNS if plan.target == "incidents" else records.EVAL_RUN_RECORD_COLUMNS
    )
    compared = [c for c in columns if c in table.column_names and c not in ("techniques",)]
    new_rows = {
        r[id_field]: r
        for r in table.select(
            [*compared, *(["techniques"] if plan.target == "incidents" else [])]
        ).to_pylist()
    }
    stored = _stored_versions(con, plan.target, plan.updates, compared)
    unchanged: set[str] = set()
    for rid in plan.updates:
        old, new = stored.get(rid), new_rows.get(rid)
        if old is None or new is None:
            continue
        if all(_same(old.get(c), new.get(c)) for c in new):
            unchanged.add(rid)
            continue
        _move_to_history(con, plan.target, rid, report.batch_id, actor)
        report.updated += 1
    report.unchanged += len(unchanged)
    if not unchanged:
        return table
    keep = pa.array([i not in unchanged for i in table.column(id_field).to_pylist()])
    return table.filter(keep)


def _stored_versions(
    con: duckdb.DuckDBPyConnection, target: Target, ids: list[str], compared: list[str]
) -> dict[str, dict[str, Any]]:
    """The stored values of `compared` (and an incident's techniques) for `ids`; column names from records.py."""
    if target == "incidents":
        cur = con.execute(
            f"select {records.column_list(compared, 'i')}, coalesce((select list(t.technique_id order by "
            "t.technique_id) from incident_techniques t where t.incident_id = i.id), []) as techniques "
            "from incidents i where i.id = any(?)",
            [ids],
        )
    else:
        cur = con.execute(
            f"select {records.column_list(compared, 'r')} from eval_runs r where r.run_id = any(?)", [ids]
        )
    names = [d[0] for d in cur.description]
    key = "id" if target == "incidents" else "run_id"
    return {row[names.index(key)]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return sorted(map(str, a or [])) == sorted(map(str, b or []))
    return a == b


def _move_to_history(
    con: duckdb.DuckDBPyConnection, target: Target, rid: str, batch: str, actor: str
) -> None:
    """Keep the stored version in record_history (as the STIX importer keeps it, so undo restores it), then
    delete it and what hangs off it; the new version is inserted with the batch's other rows."""
    if target == "incidents":
        previous = snapshot_incident(con, rid)
        incident_keys.remove_techniques(con, [rid])
        con.execute("delete from incidents where id = ?", [rid])
    else:
        cur = con.execute("select to_json(r) from eval_runs r where run_id = ?", [rid])
        previous = json.loads(cur.fetchall()[0][0])
        con.execute("delete from eval_samples where run_id = ?", [rid])
        con.execute("delete from eval_sample_scores where run_id = ?", [rid])
        con.execute("delete from eval_runs where run_id = ?", [rid])
    con.execute(
        "insert into record_history (table_name, record_id, batch_id, previous, replaced_by) values (?, ?, ?, ?, ?)",
        [target, rid, batch, json.dumps(previous, default=str), actor],
    )


def plan_file(
    con: duckdb.DuckDBPyConnection,
    path: Path | str,
    *,
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
    target: Target | None = None,
    source_key: str | None = None,
    mapping: Mapping[str, str] | None = None,
    constants: Mapping[str, str] | None = None,
    recipients: Sequence[str] | None = None,
    update: bool = False,
) -> ImportPlan:
    """Read, map and validate a file or folder the way the CLI, the inbox and the hand-over check all do: the
    mapping is the saved one for this source (else by name), with `mapping` (--map/--mapping) and `constants`
    (--set) on top; `source_key` (--source) names both the saved mapping and the records' stored source."""
    tf = read_path(path)
    source = source_name(source_key)
    chosen: Target = target or detect_target([*tf.columns, *(mapping or {}).values(), *(constants or {})])
    key = source or source_key_for(tf.name)
    given = {c: f for c, f in (mapping or {}).items() if f}
    fixed = dict(constants or {})
    if recipients and "named_recipients" not in given.values() and "named_recipients" not in fixed:
        fixed["named_recipients"] = "; ".join(recipients)
    chosen_fields = set(given.values()) | set(fixed)
    suggested, _ = suggest_mapping(con, tf, chosen, key, institute or "")
    merged = {c: f for c, f in suggested.items() if f not in chosen_fields and c not in given}
    merged.update(given)
    tf, full = apply_mapping(tf, chosen, merged, fixed)
    return validate(
        con,
        tf,
        target=chosen,
        mapping=full,
        institute=institute,
        tlp=tlp,
        releasable=releasable,
        source_key=key,
        source=source,
        update=update,
    )


def import_tabular(
    store: Store,
    path: Path | str,
    *,
    actor: str,
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
    target: Target | None = None,
    source_key: str | None = None,
    mapping: Mapping[str, str] | None = None,
    constants: Mapping[str, str] | None = None,
    recipients: Sequence[str] | None = None,
    only_valid: bool = False,
    update: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """CLI and inbox entry point: read, map (saved mapping for this source, else by name, with --map/--set on
    top), validate, commit."""
    if progress:
        progress("reading", 0.0)
    con = store.cursor()
    try:
        plan = plan_file(
            con,
            path,
            institute=institute,
            tlp=tlp,
            releasable=releasable,
            target=target,
            source_key=source_key,
            mapping=mapping,
            constants=constants,
            recipients=recipients,
            update=update,
        )
    finally:
        con.close()
    if progress:
        progress("validating", 0.2)
    return commit(store, plan, actor=actor, only_valid=only_valid, progress=progress)


__all__ = ["TabularFile", "commit", "import_tabular", "plan_file", "refusal_text"]
