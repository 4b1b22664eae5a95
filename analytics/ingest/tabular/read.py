"""Reading a partner's file: bytes to a TabularFile of column names and raw cells, nothing converted yet.

Why a module of its own: decoding (BOMs, UTF-16 without a BOM, Windows-1252), the CSV dialect (comma, semicolon,
tab or pipe), the JSON shapes (a list, an object holding one list, JSON lines) and the size and row limits are
one concern, and the only one that sees raw bytes. Parsing is done in Python on purpose: the app's store is
hardened (no file access from SQL), so DuckDB's read_csv is not available in the app.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from analytics.ingest import ImportRefused, load_json
from analytics.wording import counted

MAX_BYTES = 48 * 1024 * 1024  # below the server's 50 MB upload cap, so the importer's message is the one seen
MAX_ROWS = 200_000
PREVIEW_ROWS = 20


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
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
        return [{c: cell_text(v) for c, v in zip(self.columns, r, strict=False)} for r in self.rows[:n]]


def cell_text(v: Any) -> str:
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
    with gc_paused():
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


# RFC 4180: a quote inside a quoted cell is written twice. csv.Sniffer guesses `doublequote` from its 8 KB sample
# and guesses False when no "" happens to fall inside it, after which every later "" is read as two quotes and a
# stray one (text corrupted silently). So only the delimiter is ever guessed; quoting is always RFC 4180.
DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text: of `,` `;` tab `|`, the one that splits the first lines (read as RFC 4180,
    so quoted delimiters do not count) into the most columns, the same number on every line; comma on a tie."""
    sample = text[:65536]
    cut = sample.rfind("\n")
    sample = sample[: cut + 1] if cut > 0 else sample
    best, best_score = ",", (0, 0)
    for d in DELIMITERS:
        try:
            lines = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=d, strict=False) if r]
        except csv.Error:
            continue
        lines = lines[:50]
        if not lines or len(lines[0]) < 2:
            continue
        width = len(lines[0])
        consistent = sum(1 for r in lines if len(r) == width)
        score = (consistent, width)
        if score > best_score:
            best, best_score = d, score
    return best


def _parse_csv(
    label: str, text: str, max_rows: int
) -> tuple[list[str], list[list[Any]], list[tuple[int, str]]]:
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=sniff_delimiter(text),
        quotechar='"',
        doublequote=True,
        skipinitialspace=False,
        strict=True,
    )
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
                    shape.append(
                        (
                            len(rows) + 1,
                            f"has {counted(len(raw), 'cell')} but the header has {counted(width, 'column')}",
                        )
                    )
                    raw = (raw + [""] * width)[:width]
            rows.append(raw)
    except csv.Error as e:
        # data rows are counted from 1 after the header; the reader's line number is the file's own line
        raise ImportRefused(
            f"{label}: not valid CSV at data row {len(rows) + 1} (line {reader.line_num}): {e}"
        ) from None
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


# An object holding the records under one of these keys is a wrapper; any other object is one record.
RECORD_LISTS = ("incidents", "records", "data", "results", "rows", "evals", "items", "entries")
JSON_SHAPES = "expected a JSON list of records, an object or JSON lines"


def _parse_json(label: str, text: str, fmt: str, max_rows: int) -> tuple[list[str], list[list[Any]]]:
    records = _json_records(label, text, fmt, max_rows)
    return _records_table(label, records)


def _json_records(label: str, text: str, fmt: str, max_rows: int) -> list[dict[str, Any]]:
    """The records of one JSON text: a list of objects, an object holding one list (under a RECORD_LISTS key),
    one object (one record: AVID writes a report per file), or JSON lines. Anything else is refused in one line."""
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
            if doc.get("type") == "bundle":
                raise ImportRefused(f"{label} is a STIX bundle; import it as STIX")
            lists = [v for k, v in doc.items() if isinstance(v, list) and k in RECORD_LISTS]
            if len(lists) > 1:
                raise ImportRefused(
                    f"{label}: an object with more than one list of records ({', '.join(RECORD_LISTS)}); "
                    "give one list"
                )
            records = lists[0] if lists else [doc]
        elif isinstance(doc, list):
            records = doc
        else:
            raise ImportRefused(f"{label}: {JSON_SHAPES} (found {type(doc).__name__})")
        if len(records) > max_rows:
            raise _too_many(label, len(records), max_rows)
    for k, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise ImportRefused(f"{label}: record {k} is not an object (found {type(rec).__name__})")
    return records


def _records_table(label: str, records: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Top-level keys as columns (file order), one row per record; nested values stay whole (paths reach in)."""
    columns: dict[str, None] = {}
    for rec in records:
        for key in rec:
            columns.setdefault(str(key).strip(), None)
    cols = list(columns)
    _check_columns(label, cols)
    rows = [[rec.get(c) for c in cols] for rec in records]
    return cols, rows


# -- paths into nested records ---------------------------------------------------------------------------------

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")
EVERY = "*"  # `[*]` in a path: the rest of the path taken from every item of a list


def parse_path(path: str) -> list[str | int] | None:
    """'impact.avid.risk_domain' -> ['impact', 'avid', 'risk_domain']; 'metrics[0].detection' ->
    ['metrics', 0, 'detection']; 'affects.artifacts[*].name' -> ['affects', 'artifacts', '*', 'name'] (the name
    of every artifact). None when `path` is not a path (a plain name, or malformed)."""
    if "." not in path and "[" not in path:
        return None
    parts: list[str | int] = []
    pos = 0
    for m in _PATH_PART.finditer(path):
        gap = path[pos : m.start()]
        if gap not in ("", ".") or (gap == "" and pos and m.group(1)):
            return None
        index = m.group(2)
        parts.append(m.group(1).strip() if index is None else EVERY if index == EVERY else int(index))
        pos = m.end()
    return parts if pos == len(path) and len(parts) > 1 else None


def _walk(value: Any, parts: list[str | int]) -> Any:
    for k, part in enumerate(parts):
        if part == EVERY and isinstance(value, list):
            found = [_walk(item, parts[k + 1 :]) for item in value]
            flat = [v for f in found for v in (f if isinstance(f, list) else [f]) if v is not None]
            return flat or None
        if isinstance(part, int):
            # a list index; a path may also name a key of an object that is not a list
            if not isinstance(value, list) or part >= len(value):
                return None
            value = value[part]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
        if value is None:
            return None
    return value


def with_paths(tf: TabularFile, paths: list[str]) -> TabularFile:
    """`tf` with a column for each dotted path into its nested records (`impact.avid.risk_domain`,
    `metrics[0].detection`, `affects.artifacts[*].name`), named by the path. A path that is already a column (a CSV header with dots) is left
    alone; a malformed path, or one no record has, is refused in one line naming it."""
    new = [p for p in dict.fromkeys(paths) if p not in tf.columns]
    if not new:
        return tf
    col_index = {c: k for k, c in enumerate(tf.columns)}
    extra: list[list[Any]] = []
    for path in new:
        parts = parse_path(path)
        if parts is None:
            raise ImportRefused(f"{tf.name}: no column {path!r} (columns: {_listed(tf.columns)})")
        head = parts[0]
        if not isinstance(head, str) or head not in col_index:
            raise ImportRefused(f"{tf.name}: {path!r}: no column {head!r} (columns: {_listed(tf.columns)})")
        k = col_index[head]
        values = [_walk(r[k], parts[1:]) for r in tf.rows]
        if all(v is None for v in values):
            raise ImportRefused(f"{tf.name}: {path!r} is in no record of the file")
        extra.append(values)
    rows = [[*r, *(col[i] for col in extra)] for i, r in enumerate(tf.rows)]
    return replace(tf, columns=[*tf.columns, *new], rows=rows)


def _listed(columns: list[str], most: int = 12) -> str:
    shown = ", ".join(repr(c) for c in columns[:most])
    return shown + (f" and {len(columns) - most} more" if len(columns) > most else "")


# -- files and folders -------------------------------------------------------------------------------------------

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


def read_path(path: Path | str) -> TabularFile:
    """A file, or a folder of JSON files (searched recursively: one record per file as AVID writes them, or
    lists, or JSON lines), as one TabularFile. Refused in one line: a missing path, an empty folder, too much."""
    p = Path(path)
    if p.is_dir():
        return _read_folder(p)
    if not p.is_file():
        raise ImportRefused(f"{p}: no such file or folder")
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise ImportRefused(
            f"{p.name} is {size / 1_048_576:.1f} MB; the limit is {MAX_BYTES / 1_048_576:.0f} MB per file. "
            "Split it into smaller files and import them one after another."
        )
    return read_tabular(p.name, p.read_bytes())


def _read_folder(folder: Path) -> TabularFile:
    files = sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in JSON_SUFFIXES)
    if not files:
        raise ImportRefused(f"{folder.name}: no .json or .jsonl files in this folder (or its subfolders)")
    total = sum(f.stat().st_size for f in files)
    if total > MAX_BYTES:
        raise ImportRefused(
            f"{folder.name}: its {len(files):,} JSON files hold {total / 1_048_576:.1f} MB; the limit is "
            f"{MAX_BYTES / 1_048_576:.0f} MB per import. Import its subfolders one after another."
        )
    records: list[dict[str, Any]] = []
    digest = hashlib.sha256()
    encodings: set[str] = set()
    with gc_paused():
        for f in files:
            data = f.read_bytes()
            digest.update(f.relative_to(folder).as_posix().encode() + b"\0" + data)
            label = f.relative_to(folder).as_posix()
            if not data.strip():
                raise ImportRefused(f"{folder.name}/{label} is empty")
            try:
                text, encoding = decode_bytes(data)
            except UnicodeDecodeError as e:
                raise ImportRefused(f"{folder.name}/{label}: cannot decode the text ({e.reason})") from None
            encodings.add(encoding)
            fmt = _format_for(f.name, text)
            records += _json_records(f"{folder.name}/{label}", text, fmt, MAX_ROWS - len(records))
    columns, rows = _records_table(folder.name, records)
    if not rows:
        raise ImportRefused(f"{folder.name}: the JSON files hold no records")
    name = f"{folder.name}/"
    return TabularFile(name, "json", ", ".join(sorted(encodings)), columns, rows, digest.hexdigest())
