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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analytics.ingest import ImportRefused, load_json

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
