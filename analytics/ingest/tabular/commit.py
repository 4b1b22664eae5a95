"""Commit: a validated plan written in one transaction, with its batch record and an audit entry.

Why a module of its own: this is the only step that writes. It refuses a plan with problems unless the analyst
explicitly asked for the valid rows only, refuses a plan made for another institute, and checks again (inside the
transaction) that no id was taken since validation. `import_tabular` runs read, map, validate and commit in one
call for the CLI and the inbox; the Data page calls the steps one by one so the analyst sees the plan first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from analytics import records
from analytics.access.markings import INSTITUTES
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.ingest import ImportRefused, ImportReport, new_batch_id, record_batch
from analytics.ingest.tabular.duplicates import existing_ids
from analytics.ingest.tabular.fields import SOURCE_TAG, Progress, Target
from analytics.ingest.tabular.mapping import detect_target, save_mapping, source_key_for, suggest_mapping
from analytics.ingest.tabular.plan import ImportPlan
from analytics.ingest.tabular.read import read_path
from analytics.ingest.tabular.validate import validate
from analytics.store import audit
from analytics.store.database import Store

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
            f"{report.rejected} rows rejected and not imported (rows {_ranges(plan.rejected_rows)})"
        )
    report.details = {"target": plan.target, "encoding": plan.file.encoding, "sha256": plan.file.sha256}
    institute = _batch_institute(plan, viewer)
    if progress:
        progress("writing", 0.5)
    with store.transaction() as con:
        table = plan.rows.append_column(
            "import_batch", pa.array([report.batch_id] * plan.rows.num_rows, pa.string())
        )
        _write_rows(con, plan, table, viewer)
        report.added = table.num_rows
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
        clash = existing_ids(con, plan.target, table.column(id_field).to_pylist(), viewer)
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
                f"select {_INCIDENT_VALUES}, '{SOURCE_TAG}', import_batch from tabular_rows",
            )
            con.execute(
                "insert into incident_techniques (incident_id, technique_id) "
                "select distinct id, unnest(techniques) from tabular_rows"
            )
        else:
            _insert_rows(
                con,
                plan.file.name,
                f"insert into eval_runs ({_EVAL_COLUMNS}, source, import_batch) "
                f"select {_EVAL_COLUMNS}, '{SOURCE_TAG}', import_batch from tabular_rows",
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
    lines = [
        f"{plan.file.name}: {len(plan.problems)} problems in {len(plan.rejected_rows)} of {len(plan.file.rows)} "
        "rows" + (" and in the file as a whole" if plan.file_level_problems else "")
    ]
    lines += [p.text() for p in plan.problems[:limit]]
    if len(plan.problems) > limit:
        lines.append(f"... and {len(plan.problems) - limit} more")
    return "\n".join(lines)


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
    only_valid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """CLI and inbox entry point: read, map (saved mapping for this source, else by name), validate, commit."""
    if progress:
        progress("reading", 0.0)
    tf = read_path(path)
    chosen: Target = target or detect_target(tf.columns)
    key = source_key or source_key_for(tf.name)
    con = store.cursor()
    try:
        if mapping is None:
            mapping, _ = suggest_mapping(con, tf, chosen, key, institute or "")
        if progress:
            progress("validating", 0.2)
        plan = validate(
            con,
            tf,
            target=chosen,
            mapping=mapping,
            institute=institute,
            tlp=tlp,
            releasable=releasable,
            source_key=key,
        )
    finally:
        con.close()
    return commit(store, plan, actor=actor, only_valid=only_valid, progress=progress)
