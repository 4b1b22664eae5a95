"""Which file column feeds which field: the mapping saved for this source last time, else by name and alias.

Why: a partner sends the same layout every week; the mapping chosen once is remembered per source (the file name
without dates and counters) and institute, so the next file needs no choices. The same mapping travels as a file:
the Data page offers it for download (`mapping_file_bytes`) and `python -m analytics import --mapping FILE` reads
it (`read_mapping_file`), with `--map SOURCE=FIELD` and `--set FIELD=VALUE` on top; `apply_mapping` turns any of
them into columns (dotted paths into nested JSON, constants) that validation checks like any other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from analytics.ingest import ImportRefused
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


# -- the mapping the Data page saves and the CLI reads (--mapping FILE, --map, --set) ----------------------------

MAPPING_FORMAT = "ukau-column-mapping"
# A constant (--set FIELD=VALUE) is a column of its own, named so: problems with it name where it came from.
CONSTANT_PREFIX = "--set "


@dataclass(frozen=True)
class MappingSpec:
    """A column mapping as a file holds it: what the rows are, the source, column (or path) -> field, and
    constant field values for every row."""

    target: Target | None = None
    source: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)


def mapping_file_bytes(
    target: Target, source: str | None, mapping: Mapping[str, str], constants: Mapping[str, str] | None = None
) -> bytes:
    """The file the Data page offers for download and `--mapping FILE` reads back: one JSON object."""
    doc = {
        "format": MAPPING_FORMAT,
        "version": 1,
        "target": target,
        "source": source,
        "mapping": {c: f for c, f in mapping.items() if f},
        "constants": dict(constants or {}),
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def read_mapping_file(path: Path | str) -> MappingSpec:
    """A mapping file (as `mapping_file_bytes` writes it, or a plain {"column": "field"} object). Refused in one
    line naming the file for anything else."""
    p = Path(path)
    try:
        data = p.read_bytes() if p.stat().st_size <= MAX_MAPPING_BYTES else b"x" * (MAX_MAPPING_BYTES + 1)
    except OSError:
        raise ImportRefused(f"--mapping {p.name}: no such file") from None
    return parse_mapping_file(f"--mapping {p.name}", data)


MAX_MAPPING_BYTES = 1_048_576


def parse_mapping_file(label: str, data: bytes) -> MappingSpec:
    """The bytes of a mapping file (an upload on the Data page, or --mapping FILE), checked; see read_mapping_file."""
    if len(data) > MAX_MAPPING_BYTES:
        raise ImportRefused(f"{label}: larger than 1 MB; a mapping file is a small JSON object")
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ImportRefused(f"{label}: not a JSON mapping file ({str(e).splitlines()[0][:120]})") from None
    if not isinstance(doc, dict):
        raise ImportRefused(f"{label}: expected a JSON object of column -> field")
    if doc.get("format") != MAPPING_FORMAT:
        doc = {"mapping": doc}
    mapping, constants = doc.get("mapping") or {}, doc.get("constants") or {}
    target = doc.get("target")
    for what, part in (("mapping", mapping), ("constants", constants)):
        if not isinstance(part, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) for k, v in part.items()
        ):
            raise ImportRefused(f"{label}: '{what}' must map names to field names or values")
    if target not in (None, "incidents", "eval_runs"):
        raise ImportRefused(f"{label}: unknown record type {target!r} (incidents or eval_runs)")
    source = doc.get("source")
    return MappingSpec(
        target,
        str(source) if isinstance(source, str) and source.strip() else None,
        {str(k): str(v) for k, v in mapping.items()},
        {str(k): str(v) for k, v in constants.items()},
    )


def apply_mapping(
    tf: TabularFile,
    target: Target,
    mapping: Mapping[str, str],
    constants: Mapping[str, str] | None = None,
) -> tuple[TabularFile, dict[str, str]]:
    """The file with a column for each mapped path into nested JSON and each constant, and the mapping to
    validate with. Refused in one line: an unknown field, a field given twice, a constant that does not convert,
    a path no record has."""
    from analytics.ingest.tabular.convert import CONVERTERS, BadCell
    from analytics.ingest.tabular.read import with_paths

    specs = {f.name: f for f in FIELDS[target]}
    given: dict[str, str] = {}
    for source, fname in mapping.items():
        if not fname:
            continue
        if fname not in specs:
            raise ImportRefused(
                f"--map {source}={fname}: unknown field {fname!r} for {target} "
                f"(fields: {', '.join(field_names(target))})"
            )
        if fname in given:
            raise ImportRefused(f"field {fname!r} is given twice (--map {given[fname]} and --map {source})")
        given[fname] = f"{source}={fname}"
    for fname, value in (constants or {}).items():
        if fname not in specs:
            raise ImportRefused(
                f"--set {fname}={value}: unknown field {fname!r} for {target} "
                f"(fields: {', '.join(field_names(target))})"
            )
        if fname in given:
            raise ImportRefused(
                f"field {fname!r} is given twice (--map {given[fname]} and --set {fname}={value})"
            )
        try:
            CONVERTERS[specs[fname].kind](value)
        except BadCell as e:
            raise ImportRefused(f"--set {fname}={value}: {e}") from None
        given[fname] = f"--set {fname}"
    out = with_paths(tf, [c for c, f in mapping.items() if f and c not in tf.columns])
    merged = {c: f for c, f in mapping.items() if f}
    if constants:
        names = [f"{CONSTANT_PREFIX}{f}" for f in constants]
        rows = [[*r, *constants.values()] for r in out.rows]
        out = replace(out, columns=[*out.columns, *names], rows=rows)
        merged.update({f"{CONSTANT_PREFIX}{f}": f for f in constants})
    return out, merged
