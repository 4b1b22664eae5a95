"""Marked file exports of tables: CSV and Parquet bytes, and their file names.

Shared by the explorer's download and the briefings. Every file carries its marking where a reader will see
it: the CSV's first line is a `# TLP:... ` comment, the Parquet file's key-value metadata holds the marking, and
the file name carries the date and the highest TLP with the releasability.

CSV cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) are
prefixed with a single quote, as OWASP recommends against CSV injection. Stored text is untrusted: titles and
summaries come from partners and imports.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analytics import exports_audit, incidents
from analytics.filters import Filters
from analytics.markings import Marking
from analytics.store import Store
from analytics.viewer import Viewer

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = "; "


def escape_cell(value: str) -> str:
    """A text cell made safe for spreadsheets: formula-like text gets a leading single quote."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _text(value: Any) -> Any:
    """Cell value as CSV text: lists joined, dates ISO, strings escaped; numbers and missing left alone."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, str):
        return escape_cell(value)
    if isinstance(value, datetime | pd.Timestamp):
        if pd.isna(value):
            return ""
        ts = pd.Timestamp(value)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        if isinstance(items, list):
            return escape_cell(LIST_SEPARATOR.join(str(v) for v in items))
        return items
    return value


def _csv_column(col: pd.Series) -> pd.Series:
    """One column as CSV cells, vectorised where the dtype allows (exports run to 250k rows)."""
    kind = col.dtype.kind
    if kind in "biuf":
        return col  # numbers are numbers: a negative count is not a formula
    if kind == "M":
        has_time = bool(((col.dropna() - col.dropna().dt.normalize()) != pd.Timedelta(0)).any())
        return col.dt.strftime("%Y-%m-%dT%H:%M:%S" if has_time else "%Y-%m-%d").fillna("")
    if pd.api.types.is_string_dtype(col) and not col.map(type).isin([list, tuple]).any():
        text = col.astype(object).where(col.notna(), "").astype(str)
        risky = text.str.startswith(FORMULA_PREFIXES)
        return text.where(~risky, "'" + text)
    return col.map(_text).astype(object)


def _one_line(text: str) -> str:
    return re.sub(r"[\r\n]+", " ", text).strip()


def marking_comment(marking: Marking, extra: Iterable[str] = ()) -> str:
    """The first line of a marked CSV: '# TLP:AMBER · releasable to UK · <extra> · ...'."""
    bits = [marking.label, *(_one_line(e) for e in extra if e)]
    return "# " + " · ".join(bits)


def to_csv_bytes(
    df: pd.DataFrame,
    marking: Marking,
    *,
    description: str = "",
    exported_on: date | None = None,
    sources: str = "",
) -> bytes:
    """UTF-8 CSV: a marking comment line, then the header and rows with every text cell escaped."""
    extra = []
    if exported_on:
        extra.append(f"exported {exported_on.isoformat()}")
    extra.append(f"{len(df):,} rows")
    if description:
        extra.append(description)
    if sources:
        extra.append(sources)
    out = pd.DataFrame({col: _csv_column(df[col]) for col in df.columns})
    out.columns = [escape_cell(str(c)) for c in out.columns]
    buf = io.StringIO()
    buf.write(marking_comment(marking, extra) + "\n")
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def to_parquet_bytes(df: pd.DataFrame, marking: Marking, *, description: str = "") -> bytes:
    """Parquet with the marking in the file's key-value metadata (tlp, releasable_to, marking, filters)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.update(
        {
            b"tlp": marking.tlp.encode(),
            b"releasable_to": ",".join(marking.releasable_to).encode(),
            b"marking": marking.label.encode(),
            b"rows": str(len(df)).encode(),
        }
    )
    if description:
        meta[b"description"] = _one_line(description).encode()
    table = table.replace_schema_metadata(meta)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def export_filename(stem: str, marking: Marking, ext: str, today: date) -> str:
    """e.g. 'incidents_2026-11-20_TLP-AMBER-STRICT_REL-UK.csv'; the stem is reduced to safe characters."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_") or "export"
    ext = re.sub(r"[^A-Za-z0-9]+", "", ext) or "dat"
    return f"{safe[:60]}_{today.isoformat()}_{marking.short}.{ext}"


def incidents_csv(
    store: Store,
    viewer: Viewer,
    f: Filters,
    today: date,
    sort: str,
    descending: bool,
    *,
    at_least: Marking,
) -> bytes:
    """The explorer's CSV download: the rows this viewer may see under these filters in this order (up to
    incidents.EXPORT_ROW_LIMIT), marked with `at_least` combined with their own marking, and the audit entry of
    the export. `at_least` is the marking of every matching row, which the file name was chosen from before the
    rows were read: the header never says less than the name."""
    scoped = incidents.incidents_for_export(store.cursor(), viewer, f, today, sort, descending)
    marking = at_least.combine(scoped.marking)
    exports_audit.record_export(
        store,
        viewer,
        kind="table",
        obj="table:incidents",
        fmt="csv",
        marking=marking,
        filters=f,
        extra={"rows": len(scoped.data), "sort": sort, "descending": descending},
    )
    return to_csv_bytes(scoped.data, marking, description=f.describe(today), exported_on=today)
