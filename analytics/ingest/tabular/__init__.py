"""Spreadsheets and JSON from partners: CSV, JSON and JSONL files of incidents or evaluation results.

The Data page and the CLI share one path, in four steps, so the analyst sees exactly what will be written:

1. `read_tabular(name, data)` decodes the bytes (UTF-8, UTF-8 with BOM, UTF-16, Latin-1/Windows-1252), parses
   them with the csv/json modules and enforces the size and row limits. Parsing is done in Python on purpose: the
   app's store is hardened (no file access from SQL), so DuckDB's read_csv is not available in the app.
2. `suggest_mapping` maps file columns to fields: the mapping saved for this source last time, else by name and
   common aliases. A file whose columns already use the field names needs no mapping at all.
3. `validate` converts every cell (dates in the common formats, list cells as "a; b" or JSON lists, vocabularies
   matched case-insensitively), applies markings (the file's, raised by the chosen default, never lowered) and
   lists every problem with its row and column. Nothing touches the store except a read of existing ids.
4. `commit` writes the valid rows in one transaction with the batch record and an audit entry. It refuses a plan
   with problems unless the analyst explicitly asked for the valid rows only; the rejected rows are then
   available as a table (`rejected_rows_frame`, downloaded as an escaped, audited CSV) with a column saying what was wrong with each.

`import_tabular` runs the four steps for the CLI and the inbox.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import hashlib
import io
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
import pyarrow as pa

from analytics import vocab
from analytics.access.markings import (
    INSTITUTES,
    TLP_LEVELS,
    Marking,
    normalise_tlp,
    parse_releasable,
    visible_sql,
)
from analytics.access.viewer import Viewer
from analytics.ingest import (
    RESERVED_ID,
    ImportRefused,
    ImportReport,
    id_namespace,
    importer_institute,
    load_json,
    namespaced_id,
    new_batch_id,
    record_batch,
)
from analytics.store import audit
from analytics.store.database import Store

MAX_BYTES = 48 * 1024 * 1024  # below the server's 50 MB upload cap, so the importer's message is the one seen
MAX_ROWS = 200_000
PREVIEW_ROWS = 20
SOURCE_TAG = "spreadsheet"  # incidents.source / eval_runs.source: provenance shown in credits

Target = Literal["incidents", "eval_runs"]
TARGETS: dict[str, str] = {"incidents": "Incidents", "eval_runs": "Evaluation results"}
Progress = Callable[[str, float], None]


# -- fields -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # converter name in _CONVERTERS
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""


_MARKING_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("tlp", "tlp", aliases=("tlp_marking", "marking", "traffic_light", "handling"), help="TLP 2.0"),
    FieldSpec(
        "releasable_to",
        "releasable",
        aliases=("releasable", "releasability", "rel_to", "release_to", "rel"),
        help="UK, AU or both",
    ),
    FieldSpec(
        "named_recipients",
        "emails",
        aliases=("recipients", "named", "red_recipients"),
        help="emails, required for TLP:RED",
    ),
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "incidents": (
        FieldSpec("id", "id", aliases=("incident_id", "ref", "reference", "identifier", "incident_ref")),
        FieldSpec("title", "title", True, ("name", "headline", "incident", "incident_title", "subject")),
        FieldSpec("summary", "long_text", aliases=("description", "details", "narrative", "notes")),
        FieldSpec(
            "occurred_on",
            "date",
            True,
            ("date", "occurred", "incident_date", "event_date", "date_of_incident", "first_seen", "when"),
        ),
        FieldSpec("reported_on", "date", aliases=("reported", "report_date", "date_reported")),
        FieldSpec("originator", "institute", aliases=("institute", "reported_by", "reporting_institute")),
        FieldSpec("category", "category", True, ("type", "incident_type", "threat_type", "threat_category")),
        FieldSpec("severity", "severity", True, ("impact", "severity_level", "sev")),
        FieldSpec(
            "actor_type", "actor_type", aliases=("actor", "threat_actor", "adversary", "actor_category")
        ),
        FieldSpec("sectors", "sectors", aliases=("sector", "industry", "industries")),
        FieldSpec("countries", "countries", aliases=("country", "location", "locations")),
        FieldSpec("affected_system", "text", aliases=("system", "ai_system", "affected_model", "model")),
        FieldSpec("developer", "text", aliases=("vendor", "model_developer", "provider")),
        FieldSpec("status", "incident_status", aliases=("state", "incident_status")),
        *_MARKING_FIELDS,
        FieldSpec("source_reliability", "reliability", aliases=("reliability", "admiralty_source")),
        FieldSpec("credibility", "credibility", aliases=("information_credibility", "admiralty_credibility")),
        FieldSpec("tags", "tags", aliases=("labels", "keywords")),
        FieldSpec(
            "techniques",
            "techniques",
            aliases=("technique", "atlas", "atlas_techniques", "atlas_technique", "ttps", "technique_ids"),
        ),
    ),
    "eval_runs": (
        FieldSpec("run_id", "id", aliases=("id", "eval_id", "run", "log_id")),
        FieldSpec("institute", "eval_institute", aliases=("evaluator", "run_by", "lab")),
        FieldSpec("model", "title", True, ("model_name", "model_version", "system")),
        FieldSpec("model_developer", "text", aliases=("developer", "organization", "organisation", "org")),
        FieldSpec("model_release_date", "date", aliases=("release_date", "released", "model_release")),
        FieldSpec("benchmark", "title", True, ("task", "eval", "evaluation", "benchmark_name", "suite")),
        FieldSpec("task_version", "text", aliases=("version", "benchmark_version")),
        FieldSpec("eval_date", "date", aliases=("date", "evaluated_on", "run_date", "evaluation_date")),
        FieldSpec("metric", "text", aliases=("measure", "score_metric")),
        FieldSpec("score", "score", True, ("value", "result", "accuracy", "best_score")),
        FieldSpec("stderr", "nonneg_float", aliases=("standard_error", "se", "std_err")),
        FieldSpec("n_samples", "count", aliases=("samples", "n", "sample_count")),
        FieldSpec("status", "eval_status", aliases=("state", "run_status")),
        *_MARKING_FIELDS,
    ),
}

_ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "title": pa.string(),
    "long_text": pa.string(),
    "text": pa.string(),
    "date": pa.date32(),
    "institute": pa.string(),
    "eval_institute": pa.string(),
    "category": pa.string(),
    "severity": pa.int8(),
    "actor_type": pa.string(),
    "sectors": pa.list_(pa.string()),
    "countries": pa.list_(pa.string()),
    "incident_status": pa.string(),
    "eval_status": pa.string(),
    "tlp": pa.string(),
    "releasable": pa.list_(pa.string()),
    "emails": pa.list_(pa.string()),
    "reliability": pa.string(),
    "credibility": pa.int8(),
    "tags": pa.list_(pa.string()),
    "techniques": pa.list_(pa.string()),
    "score": pa.float64(),
    "nonneg_float": pa.float64(),
    "count": pa.int32(),
}


def as_target(value: str) -> Target:
    """A target name from a widget or the command line, checked."""
    if value == "incidents":
        return "incidents"
    if value == "eval_runs":
        return "eval_runs"
    raise ValueError(f"unknown record type {value!r}; expected incidents or eval_runs")


def field_names(target: Target) -> list[str]:
    return [f.name for f in FIELDS[target]]


def required_fields(target: Target) -> list[str]:
    return [f.name for f in FIELDS[target] if f.required]


# -- reading ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing and checking 100k rows creates millions of small objects that never form cycles; pausing the
    cycle collector meanwhile saves a third of the time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass
class TabularFile:
    """A parsed file: column names in file order and one list of raw cell values per data row."""

    name: str
    format: str  # csv | json | jsonl
    encoding: str
    columns: list[str]
    rows: list[list[Any]]
    sha256: str
    shape_problems: list[tuple[int, str]] = field(default_factory=list)  # (row, message) ragged CSV rows

    def preview(self, n: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
        return [{c: _cell_text(v) for c, v in zip(self.columns, r, strict=False)} for r in self.rows[:n]]


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list | dict):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Text and the encoding it was read as. BOMs decide first; then UTF-16 by its NUL pattern, UTF-8, and
    finally Windows-1252/Latin-1 (which always decodes: spreadsheets saved by older Excel use it)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    head = data[:4000]
    if head and head.count(0) > len(head) // 4:
        # UTF-16 without a BOM: ASCII characters leave a NUL in every other byte.
        even_nuls = head[0::2].count(0)
        odd_nuls = head[1::2].count(0)
        encoding = "utf-16-le" if odd_nuls > even_nuls else "utf-16-be"
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "latin-1 (windows-1252)"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _format_for(name: str, text: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix == ".jsonl" or suffix == ".ndjson":
        return "jsonl"
    if suffix == ".json":
        return "json"
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        first = stripped.split("\n", 1)[0].strip()
        return "jsonl" if first.endswith("}") and "\n" in stripped.strip() else "json"
    return "csv"


def read_tabular(
    name: str, data: bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> TabularFile:
    """Parse an uploaded or handed-over file. Raises ImportRefused (naming the file) for anything unreadable."""
    with _gc_paused():
        return _read_tabular(name, data, max_bytes, max_rows)


def _read_tabular(name: str, data: bytes, max_bytes: int, max_rows: int) -> TabularFile:
    label = Path(name).name or "file"
    if len(data) > max_bytes:
        raise ImportRefused(
            f"{label} is {len(data) / 1_048_576:.1f} MB; the limit is {max_bytes / 1_048_576:.0f} MB per file. "
            "Split it into smaller files and import them one after another."
        )
    if not data.strip():
        raise ImportRefused(f"{label} is empty")
    try:
        text, encoding = decode_bytes(data)
    except UnicodeDecodeError as e:
        raise ImportRefused(f"{label}: cannot decode the text ({e.reason} at byte {e.start})") from None
    fmt = _format_for(label, text)
    sha = hashlib.sha256(data).hexdigest()
    if fmt == "csv":
        columns, rows, shape = _parse_csv(label, text, max_rows)
    else:
        columns, rows = _parse_json(label, text, fmt, max_rows)
        shape = []
    if not rows:
        raise ImportRefused(f"{label} has a header but no data rows")
    return TabularFile(label, fmt, encoding, columns, rows, sha, shape)


def _too_many(label: str, n: int, max_rows: int) -> ImportRefused:
    return ImportRefused(
        f"{label} has more than {max_rows:,} rows (found at least {n:,}); the limit is {max_rows:,} rows per "
        "import. Split it into smaller files."
    )


def _parse_csv(
    label: str, text: str, max_rows: int
) -> tuple[list[str], list[list[Any]], list[tuple[int, str]]]:
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as e:
        raise ImportRefused(f"{label}: no header row ({e})") from None
    columns = [h.strip() for h in header]
    while columns and not columns[-1]:
        columns.pop()  # trailing delimiters on the header line
    _check_columns(label, columns)
    width = len(columns)
    rows: list[list[Any]] = []
    shape: list[tuple[int, str]] = []
    try:
        for raw in reader:
            if not raw or not any(c.strip() for c in raw):
                continue  # blank lines between rows
            if len(rows) >= max_rows:
                raise _too_many(label, len(rows) + 1, max_rows)
            if len(raw) != width:
                extra = raw[width:]
                if len(raw) > width and not any(c.strip() for c in extra):
                    raw = raw[:width]
                else:
                    shape.append((len(rows) + 1, f"has {len(raw)} cells but the header has {width} columns"))
                    raw = (raw + [""] * width)[:width]
            rows.append(raw)
    except csv.Error as e:
        raise ImportRefused(f"{label}: not valid CSV near row {len(rows) + 1} ({e})") from None
    return columns, rows, shape


def _check_columns(label: str, columns: list[str]) -> None:
    if not columns:
        raise ImportRefused(f"{label}: the header row is empty")
    seen: dict[str, int] = {}
    for k, c in enumerate(columns, start=1):
        if not c:
            raise ImportRefused(f"{label}: column {k} has no name in the header row")
        if c.lower() in seen:
            raise ImportRefused(f"{label}: columns {seen[c.lower()]} and {k} are both named {c!r}")
        seen[c.lower()] = k


def _parse_json(label: str, text: str, fmt: str, max_rows: int) -> tuple[list[str], list[list[Any]]]:
    records: list[Any]
    if fmt == "jsonl":
        records = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            if len(records) >= max_rows:
                raise _too_many(label, len(records) + 1, max_rows)
            try:
                records.append(load_json(label, line, where=f"line {n}"))
            except json.JSONDecodeError as e:
                raise ImportRefused(f"{label}: line {n} is not valid JSON ({e.msg})") from None
    else:
        try:
            doc = load_json(label, text)
        except json.JSONDecodeError as e:
            raise ImportRefused(
                f"{label}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"
            ) from None
        if isinstance(doc, dict):
            lists = [
                v
                for k, v in doc.items()
                if isinstance(v, list) and k in ("incidents", "records", "data", "results", "rows", "evals")
            ]
            if doc.get("type") == "bundle":
                raise ImportRefused(f"{label} is a STIX bundle; import it as STIX")
            if len(lists) != 1:
                raise ImportRefused(
                    f"{label}: expected a JSON list of records (or an object with one 'incidents', 'records' "
                    "or 'data' list)"
                )
            records = lists[0]
        elif isinstance(doc, list):
            records = doc
        else:
            raise ImportRefused(f"{label}: expected a JSON list of records")
        if len(records) > max_rows:
            raise _too_many(label, len(records), max_rows)
    columns: dict[str, None] = {}
    for k, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise ImportRefused(f"{label}: record {k} is not an object (found {type(rec).__name__})")
        for key in rec:
            columns.setdefault(str(key).strip(), None)
    cols = list(columns)
    _check_columns(label, cols)
    rows = [[rec.get(c) for c in cols] for rec in records]
    return cols, rows


def read_path(path: Path | str) -> TabularFile:
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise ImportRefused(
            f"{p.name} is {size / 1_048_576:.1f} MB; the limit is {MAX_BYTES / 1_048_576:.0f} MB per file. "
            "Split it into smaller files and import them one after another."
        )
    return read_tabular(p.name, p.read_bytes())


# -- mapping ------------------------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def source_key_for(name: str) -> str:
    """A stable name for where a file comes from: its file name without extension, dates and counters,
    e.g. 'CERT-AU_weekly_2026-11-01.csv' -> 'cert au weekly'."""
    stem = Path(name).stem.lower()
    stem = re.sub(r"\d+", " ", stem)
    stem = re.sub(r"[^a-z]+", " ", stem).strip()
    return stem or "unnamed"


def detect_target(columns: Sequence[str]) -> Target:
    names = {_norm(c) for c in columns}
    evals = {"benchmark", "score", "model", "task", "eval_date", "run_id"}
    incidents = {"title", "category", "severity", "occurred_on", "summary", "sectors"}
    return "eval_runs" if len(names & evals) > len(names & incidents) else "incidents"


def auto_mapping(columns: Sequence[str], target: Target) -> dict[str, str]:
    """file column -> field, by exact field name first, then by alias; each field used once."""
    specs = FIELDS[target]
    out: dict[str, str] = {}
    used: set[str] = set()
    normed = {c: _norm(c) for c in columns}
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


# -- cell conversion ----------------------------------------------------------------------------------------


class _Bad(ValueError):
    """A cell that cannot be converted; the message is shown with its row and column."""


_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[t ][0-9:.,]+(?:z|[+-]\d{2}:?\d{2})?)?$"
)  # lower-cased input
_YMD_SLASH = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_NUMERIC_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?:[t ][0-9:.]+)?$")
_DAY_MONTH_NAME = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?[\s-]+([a-z]+)\.?,?[\s-]+(\d{4}|\d{2})$")
_MONTH_NAME_DAY = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")

DATE_FORMATS_HELP = (
    "2024-03-05, 2024-03-05T10:00:00Z, 2024/03/05, 05/03/2024, 5/3/24, 05-03-2024, 05.03.2024, "
    "5 March 2024, 5 Mar 2024, 05-Mar-2024, March 5, 2024, 20240305"
)


def _year(y: str) -> int:
    value = int(y)
    return value + 2000 if len(y) == 2 else value


def _make_date(y: int, m: int, d: int, raw: str) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise _Bad(f"{raw!r} is not a real date") from None


def parse_date(raw: Any, *, month_first: bool = False) -> date:
    """One cell to a date. Numeric day/month dates are day-first (UK and AU usage) unless the column says
    otherwise (see `_column_month_first`)."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, str):
        raise _Bad(f"{raw!r} is not a date")
    s = raw.strip().lower()
    if m := _ISO.match(s):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), raw)
    if m := _YMD_SLASH.match(s):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), raw)
    if m := _NUMERIC_DMY.match(s):
        a, b = int(m[1]), int(m[2])
        day, month = (b, a) if month_first else (a, b)
        if month > 12:
            order = "month-first (MM/DD/YYYY)" if month_first else "day-first (DD/MM/YYYY)"
            raise _Bad(f"{raw!r} is not a valid {order} date")
        return _make_date(_year(m[3]), month, day, raw)
    if m := _DAY_MONTH_NAME.match(s):
        if m[2] not in _MONTHS:
            raise _Bad(f"{raw!r}: unknown month {m[2]!r}")
        return _make_date(_year(m[3]), _MONTHS[m[2]], int(m[1]), raw)
    if m := _MONTH_NAME_DAY.match(s):
        if m[1] not in _MONTHS:
            raise _Bad(f"{raw!r}: unknown month {m[1]!r}")
        return _make_date(int(m[3]), _MONTHS[m[1]], int(m[2]), raw)
    if m := _COMPACT.match(s):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), raw)
    raise _Bad(f"{raw!r} is not a date in a known format ({DATE_FORMATS_HELP})")


def _column_month_first(values: Iterable[Any]) -> bool:
    """True when a column's numeric dates can only be month-first (some second part above 12, no first part
    above 12), as in files exported with US settings."""
    first_over = second_over = False
    for v in set(v for v in values if isinstance(v, str)):
        m = _NUMERIC_DMY.match(v.strip())
        if m:
            first_over = first_over or int(m[1]) > 12
            second_over = second_over or int(m[2]) > 12
    return second_over and not first_over


def split_list(raw: Any) -> list[str]:
    """A list cell: a JSON list, or items separated by ';', '|', ',' or new lines."""
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        items = list(raw)
    elif isinstance(raw, str):
        s = raw.strip()
        if s.startswith("["):
            try:
                parsed = load_json("cell", s)
            except json.JSONDecodeError:
                raise _Bad(f"{raw!r} looks like a JSON list but is not valid JSON") from None
            except ImportRefused:
                raise _Bad("a JSON list nested too deep") from None
            if not isinstance(parsed, list):
                raise _Bad(f"{raw!r} is not a list")
            items = parsed
        else:
            items = re.split(r"[;|,\n]", s)
    else:
        items = [raw]
    out: list[str] = []
    for it in items:
        if isinstance(it, dict | list):
            raise _Bad(f"{raw!r}: list items must be plain values")
        text = _no_control(str(it).strip())
        if text and text not in out:
            out.append(text)
    return out


# C0 control characters and DEL, except tab, line feed and carriage return (line breaks inside a cell): a NUL or
# an escape sequence in a title is never intended and breaks terminals, CSV readers and partner systems.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control(s: str) -> str:
    if m := _CONTROL.search(s):
        raise _Bad(
            f"contains the control character U+{ord(m.group()):04X}; only tab and line breaks are allowed in text"
        )
    return s


def _text(raw: Any, limit: int = 500) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, dict | list):
        raise _Bad("expected text, found a list or object")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    s = _no_control(str(raw).strip())
    if len(s) > limit:
        raise _Bad(f"is {len(s):,} characters long; the limit is {limit:,}")
    return s or None


def _vocab(options: Sequence[str], what: str) -> Callable[[Any], str | None]:
    lookup = {_norm(o): o for o in options}

    def convert(raw: Any) -> str | None:
        s = _text(raw)
        if s is None:
            return None
        hit = lookup.get(_norm(s))
        if hit is None:
            shown = ", ".join(options) if len(options) <= 12 else ", ".join(options[:12]) + ", ..."
            raise _Bad(f"{s!r} is not a known {what} (expected one of: {shown})")
        return hit

    return convert


def _int_in(
    lo: int, hi: int, what: str, labels: Mapping[str, int] | None = None
) -> Callable[[Any], int | None]:
    def convert(raw: Any) -> int | None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, bool):
            raise _Bad(f"{raw!r} is not a {what}")
        if isinstance(raw, str) and labels and _norm(raw) in labels:
            return labels[_norm(raw)]
        try:
            f = float(raw)
        except (TypeError, ValueError):
            raise _Bad(f"{raw!r} is not a {what} ({lo} to {hi})") from None
        if not f.is_integer() or not lo <= f <= hi:
            raise _Bad(f"{raw!r} is not a {what} ({lo} to {hi})")
        return int(f)

    return convert


def _float(nonneg: bool, what: str) -> Callable[[Any], float | None]:
    def convert(raw: Any) -> float | None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, bool):
            raise _Bad(f"{raw!r} is not a number")
        try:
            if isinstance(raw, str) and raw.strip().endswith("%"):
                f = float(raw.strip()[:-1]) / 100
            else:
                f = float(raw)
        except (TypeError, ValueError):
            raise _Bad(f"{raw!r} is not a number") from None
        if math.isnan(f) or math.isinf(f):
            raise _Bad(f"{raw!r} is not a finite number")
        if nonneg and f < 0:
            raise _Bad(f"{raw!r}: {what} cannot be negative")
        return f

    return convert


def _list_of(item: Callable[[str], str], *, upper: bool = False) -> Callable[[Any], list[str]]:
    def convert(raw: Any) -> list[str]:
        out: list[str] = []
        bad: list[str] = []
        for s in split_list(raw):
            try:
                v = item(s.upper() if upper else s)
            except _Bad as e:
                bad.append(str(e))
                continue
            if v not in out:
                out.append(v)
        if bad:
            raise _Bad("; ".join(bad))
        return out

    return convert


_SECTOR = _vocab(vocab.SECTORS, "sector")
_COUNTRY_ALIASES = {"UK": "GB"}
_TECHNIQUE = re.compile(r"^AML\.T\d{4}(\.\d{3})?$")
_EMAIL = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[a-z]{2,}$")


def _sector(s: str) -> str:
    v = _SECTOR(s)
    assert v is not None
    return v


def _country(s: str) -> str:
    s = _COUNTRY_ALIASES.get(s, s)
    if not re.fullmatch(r"[A-Z]{2}", s):
        raise _Bad(f"{s!r} is not a two-letter country code (ISO 3166, e.g. GB, AU)")
    return s


def _technique(s: str) -> str:
    if not _TECHNIQUE.match(s):
        raise _Bad(f"{s!r} is not an ATLAS technique id (AML.T0000 or AML.T0000.000)")
    return s


def _email(s: str) -> str:
    s = s.lower()
    if not _EMAIL.match(s):
        raise _Bad(f"{s!r} is not an email address")
    return s


def _tag(s: str) -> str:
    if len(s) > 100:
        raise _Bad(f"tag {s[:20]!r}... is longer than 100 characters")
    return s


def _tlp(raw: Any) -> str | None:
    s = _text(raw)
    if s is None:
        return None
    try:
        return normalise_tlp(s)
    except ValueError as e:
        raise _Bad(str(e)) from None


def _releasable(raw: Any) -> list[str] | None:
    items = split_list(raw)
    if not items:
        return None
    try:
        return list(parse_releasable(items))
    except ValueError as e:
        raise _Bad(str(e)) from None


def _institute(options: Sequence[str]) -> Callable[[Any], str | None]:
    def convert(raw: Any) -> str | None:
        s = _text(raw)
        if s is None:
            return None
        v = s.upper()
        v = {"GB": "UK", "AUS": "AU", "AUSTRALIA": "AU", "UNITED KINGDOM": "UK", "UK AISI": "UK"}.get(v, v)
        if v not in options:
            raise _Bad(f"{s!r} is not an institute ({' or '.join(options)})")
        return v

    return convert


def _id(raw: Any) -> str | None:
    s = _text(raw, limit=120)
    if s is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/-]*", s):
        raise _Bad(f"{s!r} is not a usable id (letters, digits and . _ : / - only)")
    return s


def _date_or_none(raw: Any, month_first: bool = False) -> date | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return parse_date(raw, month_first=month_first)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "id": _id,
    "date": _date_or_none,
    "title": lambda raw: _text(raw, 500),
    "long_text": lambda raw: _text(raw, 20_000),
    "text": lambda raw: _text(raw, 200),
    "institute": _institute(INSTITUTES),
    "eval_institute": _institute((*INSTITUTES, "PUBLIC")),
    "category": _vocab(vocab.CATEGORIES, "category"),
    "severity": _int_in(1, 5, "severity", {_norm(v): k for k, v in vocab.SEVERITY_LABELS.items()}),
    "actor_type": _vocab(vocab.ACTOR_TYPES, "actor type"),
    "sectors": _list_of(_sector),
    "countries": _list_of(_country, upper=True),
    "incident_status": _vocab(vocab.STATUSES, "status"),
    "eval_status": _vocab(("success", "error", "cancelled", "started"), "run status"),
    "tlp": _tlp,
    "releasable": _releasable,
    "emails": _list_of(_email),
    "reliability": _vocab(vocab.SOURCE_RELIABILITY, "source reliability grade"),
    "credibility": _int_in(1, 6, "credibility grade"),
    "tags": _list_of(_tag),
    "techniques": _list_of(_technique, upper=True),
    "score": _float(False, "score"),
    "nonneg_float": _float(True, "standard error"),
    "count": _int_in(0, 100_000_000, "sample count"),
}


# -- validation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file. row is the 1-based data row (0: the whole file)."""

    row: int
    column: str
    field: str
    value: str
    message: str

    def text(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        col = f", column {self.column!r}" if self.column else ""
        return f"{where}{col}: {self.message}"


@dataclass
class ImportPlan:
    """What a commit would write: the converted valid rows, and every problem with the others."""

    file: TabularFile
    target: Target
    mapping: dict[str, str]
    source_key: str
    institute: str | None
    rows: pa.Table  # valid rows, store columns (plus 'techniques' for incidents)
    valid_rows: list[int]  # 1-based data row numbers of the rows in `rows`
    problems: list[Problem]
    warnings: list[str]
    marking: Marking

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def rejected_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems if p.row})

    @property
    def file_level_problems(self) -> list[Problem]:
        return [p for p in self.problems if not p.row]

    def problem_table(self) -> list[dict[str, Any]]:
        return [
            {
                "row": p.row or None,
                "column": p.column,
                "field": p.field,
                "value": p.value,
                "problem": p.message,
            }
            for p in self.problems
        ]

    def rejected_rows_frame(self) -> pd.DataFrame:
        """The rejected rows as in the file, plus a 'problems' column: what the Data page offers as a CSV
        (through analytics.export.table, which escapes formulas and audits the download like every export)."""
        by_row: dict[int, list[str]] = {}
        for p in self.problems:
            if p.row:
                by_row.setdefault(p.row, []).append(f"{p.column or p.field}: {p.message}")
        columns = ["source_row", *self.file.columns, "problems"]
        rows = [
            [r, *[_cell_text(v) for v in self.file.rows[r - 1]], " | ".join(by_row[r])]
            for r in sorted(by_row)
        ]
        return pd.DataFrame(rows, columns=columns, dtype=object)


def _short(v: Any) -> str:
    s = _cell_text(v)
    return s if len(s) <= 80 else s[:77] + "..."


def validate(
    con: duckdb.DuckDBPyConnection,
    tf: TabularFile,
    *,
    target: Target,
    mapping: Mapping[str, str],
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
    source_key: str | None = None,
    viewer: Viewer | None = None,
) -> ImportPlan:
    """Convert and check every cell; read the store only to find ids that already exist. Writes nothing.

    Markings: a row's TLP is the higher of its own and the default `tlp`; its releasability the intersection of
    its own and the default `releasable`. A row with neither is a problem: an unmarked record is never stored.

    Origin: the importer's institute (`viewer`'s own, else the chosen `institute`); an originator or institute
    column that says otherwise is a problem on its row. Ids: a file's id is namespaced by the importer's institute
    and checked only against records `viewer` may see; rows without an id, and TLP:RED rows, get a new random id
    (see module docstring), so no message, count or outcome depends on a record the importer may not see.
    """
    with _gc_paused():
        return _validate(con, tf, target, mapping, institute, tlp, releasable, source_key, viewer)


def _validate(
    con: duckdb.DuckDBPyConnection,
    tf: TabularFile,
    target: Target,
    mapping: Mapping[str, str],
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
    source_key: str | None,
    viewer: Viewer | None,
) -> ImportPlan:
    institute = importer_institute(viewer, institute)
    namespace = id_namespace(viewer, institute)
    specs = {f.name: f for f in FIELDS[target]}
    problems: list[Problem] = []
    warnings: list[str] = []
    n = len(tf.rows)
    col_index = {c: k for k, c in enumerate(tf.columns)}
    default_tlp = normalise_tlp(tlp) if tlp else None
    default_rel = list(parse_releasable(releasable)) if releasable else None

    bad_map = {c: f for c, f in mapping.items() if f and (f not in specs or c not in col_index)}
    for c, f in bad_map.items():
        problems.append(Problem(0, c, f, "", f"cannot map column {c!r} to {f!r} (unknown column or field)"))
    field_to_col: dict[str, str] = {}
    for c, f in mapping.items():
        if not f or c in bad_map:
            continue
        if f in field_to_col:
            problems.append(
                Problem(0, c, f, "", f"columns {field_to_col[f]!r} and {c!r} are both mapped to {f!r}")
            )
            continue
        field_to_col[f] = c
    for spec in specs.values():
        if spec.required and spec.name not in field_to_col:
            problems.append(
                Problem(0, "", spec.name, "", f"no column is mapped to the required field {spec.name!r}")
            )

    for row, message in tf.shape_problems:
        problems.append(Problem(row, "", "", "", f"row {message}"))

    # Convert column by column; values repeat a lot in real files, so each distinct cell is converted once.
    values: dict[str, list[Any]] = {}
    for fname, col in field_to_col.items():
        spec = specs[fname]
        k = col_index[col]
        raw_col = [r[k] for r in tf.rows]
        converter = _CONVERTERS[spec.kind]
        if spec.kind == "date":
            month_first = _column_month_first(raw_col)
            if month_first:
                warnings.append(
                    f"column {col!r}: dates read as month-first (MM/DD/YYYY), as the values require"
                )

            def converter(raw: Any, mf: bool = month_first) -> date | None:
                return _date_or_none(raw, mf)

        out: list[Any] = [None] * n
        if spec.kind in _UNIQUE_KINDS:
            # ids and titles rarely repeat: convert directly rather than through the cache
            for i, raw in enumerate(raw_col):
                try:
                    out[i] = converter(raw)
                except _Bad as e:
                    problems.append(Problem(i + 1, col, fname, _short(raw), str(e)))
            values[fname] = out
            continue
        cache: dict[Any, tuple[Any, str | None]] = {}
        for i, raw in enumerate(raw_col):
            key = tuple(raw) if isinstance(raw, list) else raw
            try:
                hit = cache.get(key)
            except TypeError:  # unhashable (a JSON object in a cell)
                hit = None
                key = None
            if hit is None:
                try:
                    hit = (converter(raw), None)
                except _Bad as e:
                    hit = (None, str(e))
                if key is not None:
                    cache[key] = hit
            value, error = hit
            if error:
                problems.append(Problem(i + 1, col, fname, _short(raw), error))
            out[i] = value
        values[fname] = out

    def column(fname: str) -> list[Any]:
        return values.get(fname) or [None] * n

    # Required cells.
    for fname in required_fields(target):
        if fname not in field_to_col:
            continue
        col = field_to_col[fname]
        for i, v in enumerate(values[fname]):
            if v is None and _cell_text(tf.rows[i][col_index[col]]).strip() == "":
                problems.append(Problem(i + 1, col, fname, "", f"{fname} is required and this cell is empty"))

    # Originating institute: the importer's. A cell may repeat it (or say PUBLIC for a published evaluation
    # result); any other institute is refused on its row, never obeyed and never silently overridden.
    owner_field = "originator" if target == "incidents" else "institute"
    owner_col = field_to_col.get(owner_field, "")
    claimed = column(owner_field)
    # The store's operator (no viewer) who chose no institute replicates or restores for both institutes and
    # already holds the store file: only there does the file's column stand (see analytics.ingest).
    operator_replica = viewer is None and institute is None
    owners: list[str | None] = []
    for i, v in enumerate(claimed):
        if v is None or v == institute or (target == "eval_runs" and v == "PUBLIC") or operator_replica:
            owners.append(v or institute)
            continue
        owners.append(None)
        problems.append(
            Problem(
                i + 1,
                owner_col,
                owner_field,
                _short(v),
                f"says {v!r}, but a file cannot choose the originating institute: "
                + (
                    f"records imported for {institute} originate in {institute}"
                    if institute
                    else "choose the originating institute for the import (UK or AU)"
                ),
            )
        )
    missing_owner = [
        i for i, v in enumerate(claimed) if v is None and _cell_empty(tf, field_to_col, owner_field, i)
    ]
    if missing_owner and institute is None:
        if operator_replica and owner_col:
            problems += [
                Problem(
                    i + 1, owner_col, owner_field, "", f"no {owner_field} in this row and no institute chosen"
                )
                for i in missing_owner
            ]
        else:
            problems.append(
                Problem(
                    0,
                    "",
                    owner_field,
                    "",
                    f"no originating institute was chosen (UK or AU); the {owner_field} of every record is the "
                    "importer's institute",
                )
            )

    # Markings: own marking raised by the default, releasability narrowed by it, never the other way.
    tlps = column("tlp")
    rels = column("releasable_to")
    recipients = [v or [] for v in column("named_recipients")]
    tlp_col = field_to_col.get("tlp", "")
    rel_col = field_to_col.get("releasable_to", "")
    final_tlp: list[str | None] = [None] * n
    final_rel: list[list[str] | None] = [None] * n
    if default_tlp is None and "tlp" not in field_to_col:
        problems.append(Problem(0, "", "tlp", "", "no TLP marking: map a TLP column or choose a default TLP"))
    if default_rel is None and "releasable_to" not in field_to_col:
        problems.append(
            Problem(0, "", "releasable_to", "", "no releasability: map a column or choose UK, AU or both")
        )
    merged_rel: dict[tuple[str, ...] | None, list[str]] = {}
    for i in range(n):
        own = tlps[i]
        if own is None and default_tlp is None:
            if tlp_col and _cell_empty(tf, field_to_col, "tlp", i):
                problems.append(
                    Problem(i + 1, tlp_col, "tlp", "", "no TLP marking in this row and no default")
                )
        elif own is None or (default_tlp is not None and _RANK[default_tlp] > _RANK[own]):
            final_tlp[i] = default_tlp
        else:
            final_tlp[i] = own
        own_rel = rels[i]
        rel_key = tuple(own_rel) if own_rel is not None else None
        if rel_key in merged_rel:
            final_rel[i] = merged_rel[rel_key]  # rows share one list per distinct releasability
        elif own_rel is None and default_rel is None:
            if rel_col and _cell_empty(tf, field_to_col, "releasable_to", i):
                problems.append(
                    Problem(
                        i + 1, rel_col, "releasable_to", "", "no releasability in this row and no default"
                    )
                )
        else:
            merged = sorted(set(own_rel or INSTITUTES) & set(default_rel or INSTITUTES))
            if not merged:
                problems.append(
                    Problem(
                        i + 1,
                        rel_col,
                        "releasable_to",
                        _short(own_rel),
                        f"releasable to {', '.join(own_rel or [])} in the file but only to "
                        f"{', '.join(default_rel or [])} by the chosen default: nobody could receive it",
                    )
                )
            final_rel[i] = merged or None
            if merged:
                merged_rel[rel_key] = merged
        if final_tlp[i] == "RED" and not recipients[i]:
            problems.append(
                Problem(
                    i + 1,
                    field_to_col.get("named_recipients", tlp_col),
                    "named_recipients",
                    "",
                    "TLP:RED needs named recipients (a named_recipients column with emails)",
                )
            )

        # What an institute imports stays readable by that institute (and by the JOINT importer who made it):
        # otherwise its own ids would hold records hidden from it, and a clash would say they exist.
        who = namespace if namespace in ("UK", "AU", "JOINT") else None
        if who and final_tlp[i] and final_tlp[i] != "RED" and final_rel[i]:
            need = set(INSTITUTES) if who == "JOINT" else {who}
            if not need <= set(final_rel[i] or ()):
                problems.append(
                    Problem(
                        i + 1,
                        rel_col,
                        "releasable_to",
                        _short(final_rel[i]),
                        f"releasable to {', '.join(final_rel[i] or [])} only: {who} could not read the record it "
                        "imports",
                    )
                )
            elif final_tlp[i] == "AMBER+STRICT" and owners[i] != who:
                problems.append(
                    Problem(
                        i + 1,
                        tlp_col,
                        "tlp",
                        "AMBER+STRICT",
                        f"TLP:AMBER+STRICT is read only by the originating institute, and {who} imports this "
                        f"{'record for ' + str(owners[i]) if owners[i] else 'record'}",
                    )
                )

    # Ids. A file's id is namespaced by the importer ('X-1' from AU is stored as 'AU-X-1'); rows without one and
    # TLP:RED rows get '<ns>-IMP-<random>'. Duplicates are looked for only among records the importer may see
    # (by id, or for rows without an id by their content), so a hidden record is exactly like a missing one.
    id_field = "id" if target == "incidents" else "run_id"
    given = column(id_field)
    id_col = field_to_col.get(id_field, "")
    ids: list[str | None] = [None] * n
    red_given = 0
    fresh_red = namespace is not None  # the operator sees every record: a clash tells them nothing
    for i in range(n):
        g = given[i]
        if g is not None and RESERVED_ID in g.upper():
            problems.append(
                Problem(
                    i + 1,
                    id_col,
                    id_field,
                    g,
                    f"ids containing {RESERVED_ID!r} are made by the importer; leave the {id_field} empty",
                )
            )
            continue
        if (fresh_red and final_tlp[i] == "RED") or g is None:
            red_given += final_tlp[i] == "RED" and g is not None
            ids[i] = _new_id(target, namespace or owners[i])
        else:
            ids[i] = namespaced_id(g, namespace)
    if red_given:
        warnings.append(
            f"{red_given} TLP:RED rows get ids of their own: a RED record never keeps the id a file gives it"
        )
    first_seen: dict[str, int] = {}
    for i, rid in enumerate(ids):
        if rid is None or given[i] is None or (fresh_red and final_tlp[i] == "RED"):
            continue
        if rid in first_seen:
            problems.append(
                Problem(
                    i + 1,
                    id_col,
                    id_field,
                    given[i],
                    f"{id_field} {given[i]!r} is already used by row {first_seen[rid] + 1} of this file",
                )
            )
        else:
            first_seen[rid] = i
    for rid in _existing_ids(con, target, list(first_seen), viewer):
        i = first_seen[rid]
        stored = "" if rid == given[i] else f" (as {rid!r})"
        problems.append(
            Problem(
                i + 1,
                id_col,
                id_field,
                given[i],
                f"{id_field} {given[i]!r}{stored} is already in the store; imports add records and never replace "
                "them",
            )
        )
    _content_duplicates(con, target, tf, values, owners, given, final_tlp, viewer, problems)

    # Techniques not in the loaded ATLAS release are kept (releases differ) but flagged.
    if target == "incidents" and "techniques" in values:
        known = {r[0] for r in con.execute("select id from atlas_techniques").fetchall()}
        unknown = sorted(
            {t for ts in values["techniques"] if ts for t in ts if t not in known and t[:9] not in known}
        )
        if known and unknown:
            warnings.append(
                f"{len(unknown)} technique ids are not in the loaded ATLAS release: {', '.join(unknown[:10])}"
            )

    bad_rows = {p.row for p in problems if p.row}
    file_level = any(not p.row for p in problems)
    valid = [] if file_level else [i for i in range(n) if (i + 1) not in bad_rows]

    every = len(valid) == n

    def pick(vals: list[Any]) -> list[Any]:
        return vals if every else [vals[i] for i in valid]

    data: dict[str, list[Any]] = {}
    for fname in specs:
        if fname in ("tlp", "releasable_to", "named_recipients", id_field, owner_field):
            continue
        vals = values.get(fname)
        data[fname] = pick(vals) if vals is not None else [None] * len(valid)
    data[id_field] = pick(ids)
    data[owner_field] = pick(owners)
    data["tlp"] = pick(final_tlp)
    data["releasable_to"] = pick(final_rel)
    data["named_recipients"] = pick(recipients)
    if target == "incidents":
        data["status"] = [v or "new" for v in data["status"]]
        for listed in ("sectors", "countries", "tags", "techniques"):
            data[listed] = [v or [] for v in data[listed]]
    else:
        data["status"] = [v or "success" for v in data["status"]]
    schema = pa.schema([(f.name, _ARROW_TYPES[f.kind]) for f in specs.values()])
    table = pa.table({f.name: pa.array(data[f.name], type=schema.field(f.name).type) for f in schema})

    marking = _plan_marking(data["tlp"], data["releasable_to"], len(valid))
    problems.sort(key=lambda p: (p.row, list(col_index).index(p.column) if p.column in col_index else -1))
    return ImportPlan(
        file=tf,
        target=target,
        mapping={c: f for c, f in mapping.items() if f},
        source_key=source_key or source_key_for(tf.name),
        institute=institute,
        rows=table,
        valid_rows=[i + 1 for i in valid],
        problems=problems,
        warnings=warnings,
        marking=marking,
    )


_RANK: dict[str, int] = {t: k for k, t in enumerate(TLP_LEVELS)}
_KIND_OF: dict[str, dict[str, str]] = {t: {f.name: f.kind for f in specs} for t, specs in FIELDS.items()}
_UNIQUE_KINDS = frozenset({"id", "title", "long_text"})


def _cell_empty(tf: TabularFile, field_to_col: Mapping[str, str], fname: str, i: int) -> bool:
    col = field_to_col.get(fname)
    if col is None:
        return True
    return _cell_text(tf.rows[i][tf.columns.index(col)]).strip() == ""


def _new_id(target: Target, namespace: str | None) -> str:
    """A fresh id for a row the file gives none (or a TLP:RED row): random, so it cannot be predicted from the
    row's content and never meets a record someone else can see and this importer cannot."""
    digest = uuid.uuid4().hex[:12]
    prefix = (namespace or "X").upper()
    return f"{prefix}-IMP-{digest}" if target == "incidents" else f"{prefix.lower()}-imp-{digest}"


_CONTENT_KEYS: dict[str, tuple[str, ...]] = {
    "incidents": ("title", "occurred_on", "category"),
    "eval_runs": ("model", "benchmark", "eval_date", "metric", "task_version", "score"),
}


def _content_duplicates(
    con: duckdb.DuckDBPyConnection,
    target: Target,
    tf: TabularFile,
    values: Mapping[str, list[Any]],
    owners: Sequence[str | None],
    given: Sequence[str | None],
    tlps: Sequence[str | None],
    viewer: Viewer | None,
    problems: list[Problem],
) -> None:
    """Rows without an id that repeat an earlier row of the file, or a record of the same institute the importer
    may see, with the same content (the same file imported twice): a problem on the row."""
    keys = _CONTENT_KEYS[target]
    owner_field = "originator" if target == "incidents" else "institute"
    rows = [
        i
        for i in range(len(tf.rows))
        if given[i] is None and tlps[i] != "RED" and owners[i] is not None and all(k in values for k in keys)
    ]
    if not rows:
        return
    what = (
        "incident (title, date, category)"
        if target == "incidents"
        else "result (model, benchmark, date, score)"
    )
    seen: dict[tuple[Any, ...], int] = {}
    candidates: list[int] = []
    for i in rows:
        key = (owners[i], *(values[k][i] for k in keys))
        if key in seen:
            problems.append(
                Problem(i + 1, "", keys[0], "", f"the same {what} as row {seen[key] + 1} of this file")
            )
        else:
            seen[key] = i
            candidates.append(i)
    table = pa.table(
        {
            "k": pa.array(candidates, pa.int64()),
            "owner": pa.array([owners[i] for i in candidates], pa.string()),
            **{
                k: pa.array([values[k][i] for i in candidates], _ARROW_TYPES[_KIND_OF[target][k]])
                for k in keys
            },
        }
    )
    table_name = {"incidents": "incidents", "eval_runs": "eval_runs"}[target]
    alias = "i" if target == "incidents" else "r"
    id_col = "id" if target == "incidents" else "run_id"
    vis, params = visible_sql(viewer, target, alias) if viewer is not None else ("true", {})
    on = " and ".join(f"{alias}.{k} is not distinct from c.{k}" for k in keys)
    con.register("tabular_check_content", table)
    try:
        hits = con.execute(
            f"select c.k, min({alias}.{id_col}) from tabular_check_content c join {table_name} {alias} "
            f"on {on} and {alias}.{owner_field} = c.owner where {vis} group by c.k",
            params,
        ).fetchall()
    finally:
        con.unregister("tabular_check_content")
    for i, rid in sorted(hits):
        problems.append(
            Problem(
                i + 1,
                "",
                keys[0],
                "",
                f"the same {what} is already in the store as {rid!r}; imports add records and never replace them",
            )
        )


def _existing_ids(
    con: duckdb.DuckDBPyConnection, target: Target, ids: list[str], viewer: Viewer | None = None
) -> list[str]:
    """Those of `ids` held by a record `viewer` may see (every record for the store's operator)."""
    if not ids:
        return []
    table = pa.table({"rid": pa.array(ids, pa.string())})
    vis, params = (
        visible_sql(viewer, target, "i" if target == "incidents" else "r")
        if viewer is not None
        else ("true", {})
    )
    con.register("tabular_check_ids", table)
    try:
        sql = {
            "incidents": "select c.rid from tabular_check_ids c join incidents i on i.id = c.rid",
            "eval_runs": "select c.rid from tabular_check_ids c join eval_runs r on r.run_id = c.rid",
        }[target]
        return [r[0] for r in con.execute(f"{sql} where {vis}", params).fetchall()]
    finally:
        con.unregister("tabular_check_ids")


def _plan_marking(tlps: list[str | None], rels: list[list[str] | None], rows: int) -> Marking:
    if not rows:
        return Marking(rows=0, sources=(SOURCE_TAG,))
    top = max((_RANK[t] for t in set(tlps) if t), default=0)
    rel = set(INSTITUTES)
    for r in rels:
        rel &= set(r or ())
    return Marking(TLP_LEVELS[top], tuple(sorted(rel)), rows, (SOURCE_TAG,))


# -- commit -------------------------------------------------------------------------------------------------

_INCIDENT_COLUMNS = (
    "id, title, summary, occurred_on, reported_on, originator, category, severity, actor_type, sectors, "
    "countries, affected_system, developer, status, tlp, releasable_to, named_recipients, source_reliability, "
    "credibility, tags"
)
_EVAL_COLUMNS = (
    "run_id, institute, model, model_developer, model_release_date, benchmark, task_version, eval_date, metric, "
    "score, stderr, n_samples, status, tlp, releasable_to, named_recipients"
)


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
        viewer.require("analyst", "lead", "admin")
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
    institute = plan.institute or (viewer.institute if viewer and viewer.institute in INSTITUTES else None)
    if institute is None:
        # The batch belongs to the institute whose records it holds (for history and undo by its leads).
        owners = set(
            plan.rows.column("originator" if plan.target == "incidents" else "institute").to_pylist()
        )
        institute = owners.pop() if len(owners) == 1 and owners <= set(INSTITUTES) else None
    if progress:
        progress("writing", 0.5)
    with store.transaction() as con:
        table = plan.rows.append_column(
            "import_batch", pa.array([report.batch_id] * plan.rows.num_rows, pa.string())
        )
        con.register("tabular_rows", table)
        try:
            id_field = "id" if plan.target == "incidents" else "run_id"
            clash = _existing_ids(con, plan.target, table.column(id_field).to_pylist(), viewer)
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
                    f"select {_INCIDENT_COLUMNS}, '{SOURCE_TAG}', import_batch from tabular_rows",
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
