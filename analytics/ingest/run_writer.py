"""Writing evaluation runs, with their samples, into the store: what every run importer shares (Inspect, Epoch,
garak). A module of its own so the importers' readers and this one writer each stay readable.

Runs are keyed by run_id. A run already stored with the same content is left alone; a changed one replaces it,
its old row kept in record_history, its marking only ever raised; a run of another originator is refused. With
`update` (--update) the import's marking is applied exactly, and a marking that differs is otherwise reported,
never silently kept. Samples go in through Arrow (row-by-row inserts take seconds at 10k samples).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from analytics.access.markings import tlp_rank
from analytics.ingest import ImportRefused, ImportReport
from analytics.records import EVAL_RUN_COLUMNS
from analytics.wording import counted


class SampleScore(NamedTuple):
    """One sample's score from the run's headline scorer (a row of eval_samples without its run_id), with what
    the sample asked, expected and got where the source states it (migrations 009 and 012; None otherwise)."""

    sample_id: str
    epoch: int
    score: float | None
    value: str | None
    input: str | None = None
    target: str | None = None
    output: str | None = None
    explanation: str | None = None
    metadata: str | None = None  # JSON text
    answer: str | None = None
    transcript: str | None = None  # JSON array of messages


class OtherScore(NamedTuple):
    """One sample's score from any other scorer (a row of eval_sample_scores without its run_id)."""

    sample_id: str
    epoch: int
    scorer: str
    score: float | None
    value: str | None
    answer: str | None = None
    explanation: str | None = None


@dataclass
class ParsedRun:
    """One log, read and validated, ready to write."""

    file: str
    row: dict[str, Any]
    samples: list[SampleScore] = field(default_factory=list)
    other_scores: list[OtherScore] = field(default_factory=list)
    fingerprint: str = ""


# Every column of `eval_runs` but created_at (the store sets it): a run from a log supplies its details too.
_RUN_COLUMNS = tuple(c for c in EVAL_RUN_COLUMNS if c != "created_at")


class _StoredRun(NamedTuple):
    """What an import needs to know of a run already in the store."""

    institute: str
    tlp: str
    releasable_to: list[str]
    named_recipients: list[str]
    content_hash: str | None
    whole: str  # the row as JSON, for record_history


class _RunMarking(NamedTuple):
    """The marking a written run carries."""

    tlp: str
    releasable_to: list[str]
    named_recipients: list[str]


def write_runs(
    con: duckdb.DuckDBPyConnection,
    runs: Sequence[ParsedRun],
    report: ImportReport,
    *,
    institute: str,
    tlp: str,
    releasable: list[str],
    actor: str,
    update: bool = False,
) -> None:
    """Insert new runs, skip identical ones, replace changed ones (history kept, marking never lowered).

    Runs are keyed by run_id; a run_id that belongs to another institute is refused (an import never rewrites
    another institute's record). A run stored with another marking is left as it is and reported (a warning
    naming both markings), unless `update` (--update): then the import's marking is applied exactly, to
    unchanged and changed runs alike, each counted updated with its old version in record_history."""
    existing = _stored_runs(con, [r.row["run_id"] for r in runs])
    seen: dict[str, str] = {}
    samples: list[tuple[Any, ...]] = []
    others: list[tuple[Any, ...]] = []
    remarked: dict[tuple[str, str], list[str]] = {}  # (stored, given) marking -> runs left as stored
    given = _marking_label(tlp, releasable)
    for run in runs:
        rid = run.row["run_id"]
        if rid in seen:
            if seen[rid] != run.fingerprint:
                raise ImportRefused(
                    f"{run.file}: run {rid} appears twice in this import with different content"
                )
            report.unchanged += 1
            continue
        seen[rid] = run.fingerprint
        marking = _RunMarking(tlp, list(releasable), [])
        old = existing.get(rid)
        if old is not None:
            if old.institute != institute:
                raise ImportRefused(f"{run.file}: run {rid} is already recorded by another originator")
            stored = _marking_label(old.tlp, old.releasable_to)
            if old.content_hash == run.fingerprint and (stored == given or not update):
                if stored != given:
                    remarked.setdefault((stored, given), []).append(rid)
                report.unchanged += 1
                continue
            marking = _remove_replaced_run(con, rid, old, tlp, releasable, report, actor)
            if update:
                marking = _RunMarking(tlp, sorted(releasable), old.named_recipients)
            report.updated += 1
        else:
            report.added += 1
        _insert_run(con, run, institute, marking, report.batch_id)
        samples.extend((rid, *s) for s in run.samples)
        others.extend((rid, *o) for o in run.other_scores)
    _bulk_insert(con, "eval_samples", ("run_id", *SampleScore._fields), samples)
    _bulk_insert(con, "eval_sample_scores", ("run_id", *OtherScore._fields), others)
    for (stored, new), ids in remarked.items():
        report.warnings.append(
            f"{counted(len(ids), 'run')} unchanged but marked {stored} in the store and {new} by this import (e.g. "
            f"{ids[0]}); the stored marking is kept: give --update to apply the new one"
        )


def _marking_label(tlp: str, releasable: Sequence[str]) -> str:
    return f"TLP:{tlp} releasable to {','.join(sorted(releasable))}"


def _stored_runs(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, _StoredRun]:
    """The runs already stored under any of `ids`, whoever recorded them."""
    if not ids:
        return {}
    cur = con.execute(
        "select run_id, institute, tlp, releasable_to, named_recipients, details->>'content_hash' as h, "
        "to_json(r) as whole from eval_runs r where run_id = any(?)",
        [ids],
    )
    return {
        rid: _StoredRun(inst, r_tlp, list(r_rel), list(r_named), h, whole)
        for rid, inst, r_tlp, r_rel, r_named, h, whole in cur.fetchall()
    }


def _remove_replaced_run(
    con: duckdb.DuckDBPyConnection,
    rid: str,
    old: _StoredRun,
    tlp: str,
    releasable: list[str],
    report: ImportReport,
    actor: str,
) -> _RunMarking:
    """Move the stored run `rid` to record_history and delete it and its samples, so a changed log replaces
    it; returns the marking the new row keeps. The marking can only
    rise: the highest TLP, the narrowest releasability, the old named recipients."""
    row_tlp = old.tlp if tlp_rank(old.tlp) > tlp_rank(tlp) else tlp
    row_rel = sorted(set(releasable) & set(old.releasable_to)) or sorted(old.releasable_to)
    con.execute(
        "insert into record_history (table_name, record_id, batch_id, previous, replaced_by) "
        "values ('eval_runs', ?, ?, ?, ?)",
        [rid, report.batch_id, old.whole, actor],
    )
    con.execute("delete from eval_samples where run_id = ?", [rid])
    con.execute("delete from eval_sample_scores where run_id = ?", [rid])
    con.execute("delete from eval_runs where run_id = ?", [rid])
    return _RunMarking(row_tlp, row_rel, old.named_recipients)


def _insert_run(
    con: duckdb.DuckDBPyConnection,
    run: ParsedRun,
    institute: str,
    marking: _RunMarking,
    batch_id: str,
) -> None:
    """Insert the eval_runs row of `run` with its marking."""
    values = {
        **run.row,
        "institute": institute,
        **marking._asdict(),
        "details": json.dumps(run.row["details"], sort_keys=True, default=str),
        "import_batch": batch_id,
    }
    con.execute(
        f"insert into eval_runs ({', '.join(_RUN_COLUMNS)}) values ({', '.join('?' for _ in _RUN_COLUMNS)})",
        [values[c] for c in _RUN_COLUMNS],
    )


_SAMPLE_TYPES: dict[str, pa.DataType] = {
    "run_id": pa.string(),
    "sample_id": pa.string(),
    "epoch": pa.int32(),
    "scorer": pa.string(),
    "score": pa.float64(),
    "value": pa.string(),
    "input": pa.string(),
    "target": pa.string(),
    "output": pa.string(),
    "explanation": pa.string(),
    "metadata": pa.string(),
    "answer": pa.string(),
    "transcript": pa.string(),
}
_SAMPLE_TABLES = {"eval_samples", "eval_sample_scores"}


def _bulk_insert(
    con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Insert many sample rows through Arrow (row-by-row inserts take seconds at 10k samples)."""
    if not rows or table not in _SAMPLE_TABLES:
        return
    arrays = {c: pa.array([r[k] for r in rows], type=_SAMPLE_TYPES[c]) for k, c in enumerate(columns)}
    batch = pa.table(arrays)
    con.register("incoming_samples", batch)
    try:
        cols = ", ".join(columns)
        # metadata arrives as JSON text; the column is JSON, so the cast checks it is JSON.
        selected = ", ".join(f"{c}::json" if c == "metadata" else c for c in columns)
        con.execute(f"insert into {table} ({cols}) select {selected} from incoming_samples")
    finally:
        con.unregister("incoming_samples")
