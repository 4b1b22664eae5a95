"""Which file column feeds which field: the mapping saved for this source last time, else by name and alias.

Why: a partner sends the same layout every week; the mapping chosen once is remembered per source (the file name
without dates and counters) and institute, so the next file needs no choices.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from analytics.ingest.tabular.fields import FIELDS, Target, field_names, norm_name
from analytics.ingest.tabular.read import TabularFile


def source_key_for(name: str) -> str:
    """A stable name for where a file comes from: its file name without extension, dates and counters,
    e.g. 'CERT-AU_weekly_2026-11-01.csv' -> 'cert au weekly'."""
    stem = Path(name).stem.lower()
    stem = re.sub(r"\d+", " ", stem)
    stem = re.sub(r"[^a-z]+", " ", stem).strip()
    return stem or "unnamed"


def detect_target(columns: Sequence[str]) -> Target:
    names = {norm_name(c) for c in columns}
    evals = {"benchmark", "score", "model", "task", "eval_date", "run_id"}
    incidents = {"title", "category", "severity", "occurred_on", "summary", "sectors"}
    return "eval_runs" if len(names & evals) > len(names & incidents) else "incidents"


def auto_mapping(columns: Sequence[str], target: Target) -> dict[str, str]:
    """file column -> field, by exact field name first, then by alias; each field used once."""
    specs = FIELDS[target]
    out: dict[str, str] = {}
    used: set[str] = set()
    normed = {c: norm_name(c) for c in columns}
    for c in columns:
        for spec in specs:
            if normed[c] == spec.name and spec.name not in used:
                out[c] = spec.name
                used.add(spec.name)
                break
    for c in columns:
        if c in out:
            continue
        for spec in specs:
            if spec.name not in used and normed[c] in spec.aliases:
                out[c] = spec.name
                used.add(spec.name)
                break
    return out


def saved_mapping(
    con: duckdb.DuckDBPyConnection, source_key: str, target: Target, institute: str
) -> dict[str, str] | None:
    rows = con.execute(
        "select mapping from column_mappings where source_key = ? and target = ? and institute = ?",
        [source_key, target, institute],
    ).fetchall()
    return dict(json.loads(rows[0][0])) if rows else None


def suggest_mapping(
    con: duckdb.DuckDBPyConnection, tf: TabularFile, target: Target, source_key: str, institute: str
) -> tuple[dict[str, str], str]:
    """The mapping to offer and where it came from ('saved' or 'matched by name')."""
    saved = saved_mapping(con, source_key, target, institute)
    fields_ok = set(field_names(target))
    if saved:
        usable = {c: f for c, f in saved.items() if c in tf.columns and f in fields_ok}
        if usable:
            auto = auto_mapping([c for c in tf.columns if c not in usable], target)
            taken = set(usable.values())
            usable.update({c: f for c, f in auto.items() if f not in taken})
            return usable, "saved"
    return auto_mapping(tf.columns, target), "matched by name"


def save_mapping(
    con: duckdb.DuckDBPyConnection,
    source_key: str,
    target: Target,
    institute: str,
    mapping: Mapping[str, str],
    actor: str,
) -> None:
    con.execute(
        "insert or replace into column_mappings (source_key, target, mapping, institute, saved_by, saved_at) "
        "values (?, ?, ?, ?, ?, current_timestamp)",
        [source_key, target, json.dumps(dict(mapping), sort_keys=True), institute, actor],
    )
