"""Marked file exports of tables: CSV and Parquet bytes, and their file names.

Shared by the explorer's and the threat matrix's downloads and the briefings. Every file carries its marking
where a reader will see it: the CSV's first line is a `# TLP:... ` comment, the Parquet file's key-value metadata
holds the marking, and the file name carries the date and the highest TLP with the releasability.

CSV cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) are
prefixed with a single quote, as OWASP recommends against CSV injection. Stored text is untrusted: titles and
summaries come from partners and imports. Header comment lines ('# ...') carry text too (the filters in words,
which include whatever was typed into the search box): each is kept on one line (CR, LF and tabs become spaces,
so a value cannot start a row of its own), its double quotes become single ones (no quoted cell can open), and
any part after a comma or semicolon - where a spreadsheet starts a new cell - that would be a formula is
escaped like a cell.

Every CSV the product offers for download is built by `csv_bytes` (one escaping) and handed over by
`export_csv` (that escaping plus the audit entry, through analytics.export.audit.export_file).
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

from analytics.access.markings import Marking
from analytics.access.viewer import Viewer
from analytics.export import audit as exports_audit
from analytics.filters import Filters
from analytics.incidents import explorer as incident_explorer
from analytics.matrix.queries import MatrixData
from analytics.sources import source_credits
from analytics.store.database import Store
from analytics.wording import counted

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = "; "


def escape_cell(value: str) -> str:
    """A text cell made safe for spreadsheets: formula-like text gets a leading single quote, and a bare
    carriage return becomes a line feed (the CSV writer quotes cells holding a line feed, but not a lone CR,
    which a spreadsheet reads as the end of the row: the rest would start a row of its own)."""
    value = "'" + value if value.startswith(FORMULA_PREFIXES) else value
    return _BARE_CR.sub("\n", value) if "\r" in value else value


_BARE_CR = re.compile(r"\r\n?")


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
    # a str-dtype column holds only strings; an object column may hold lists (tags), which _text joins. (Asking
    # an empty str column for the type of each value gives a str column, which cannot be compared with types.)
    if isinstance(col.dtype, pd.StringDtype) or (
        pd.api.types.is_string_dtype(col) and not any(isinstance(v, list | tuple) for v in col)
    ):
        text = col.astype(object).where(col.notna(), "").astype(str)
        risky = text.str.startswith(FORMULA_PREFIXES)
        return text.where(~risky, "'" + text).str.replace(_BARE_CR, "\n", regex=True)
    return col.map(_text).astype(object)


def _one_line(text: str) -> str:
    return re.sub(r"[\r\n\t\v\f]+", " ", text).strip()


_CELL_BREAK = re.compile(r"([,;])")


def comment_line(text: str) -> str:
    """One '# ...' header line, safe in a spreadsheet: on one line, no quotes, no formula after a separator."""
    parts = _CELL_BREAK.split(_one_line(text).replace('"', "'"))
    for k in range(2, len(parts), 2):  # the pieces after each separator
        body = parts[k].lstrip(" ")
        if body.startswith(FORMULA_PREFIXES):
            parts[k] = parts[k][: len(parts[k]) - len(body)] + "'" + body
    return "# " + "".join(parts)


def marking_comment(marking: Marking, extra: Iterable[str] = ()) -> str:
    """The first line of a marked CSV: '# TLP:AMBER · releasable to UK · <extra> · ...'."""
    bits = [marking.label, *(_one_line(e) for e in extra if e)]
    return comment_line(" · ".join(bits))


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
    extra.append(f"{counted(len(df), 'row')}")
    if description:
        extra.append(description)
    if sources:
        extra.append(sources)
    return csv_bytes(df, [marking_comment(marking, extra)])


def csv_bytes(df: pd.DataFrame, header: Iterable[str]) -> bytes:
    """The one CSV writer of the product: `header` lines as '# ...' comments (each made safe by
    `comment_line`), then the column names and rows with every text cell escaped."""
    out = pd.DataFrame({col: _csv_column(df[col]) for col in df.columns})
    out.columns = [escape_cell(str(c)) for c in out.columns]
    buf = io.StringIO()
    for line in header:
        text = line[1:] if line.startswith("#") else line
        buf.write(comment_line(text.lstrip(" ")) + "\n")
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def export_csv(
    store: Store,
    viewer: Viewer,
    df: pd.DataFrame,
    marking: Marking,
    *,
    header: Iterable[str],
    obj: str,
    kind: str = "table",
    filters: Filters | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """A CSV download: escaped by `csv_bytes`, audited as an export of `obj` under `marking`."""
    lines = list(header)
    return exports_audit.export_file(
        store,
        viewer,
        lambda: csv_bytes(df, lines),
        kind=kind,
        obj=obj,
        fmt="csv",
        marking=marking,
        filters=filters,
        extra={"rows": len(df), **(extra or {})},
    )


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
    incident_explorer.EXPORT_ROW_LIMIT), marked with `at_least` combined with their own marking, and the audit
    entry of the export. `at_least` is the marking of every matching row, which the file name was chosen from
    before the rows were read: the header never says less than the name."""
    scoped = incident_explorer.incidents_for_export(store.cursor(), viewer, f, today, sort, descending)
    marking = at_least.combine(scoped.marking)
    extra = [f"exported {today.isoformat()}", f"{counted(len(scoped.data), 'row')}", f.describe(today)]
    return export_csv(
        store,
        viewer,
        scoped.data,
        marking,
        header=[marking_comment(marking, extra)],
        obj="table:incidents",
        filters=f,
        # the sort column as a field name ('Reported by' -> 'reported_by'), from incident_explorer.SORT_COLUMNS
        extra={"sort": re.sub(r"[^a-z]+", "_", sort.lower()).strip("_"), "descending": descending},
    )


# -- the threat matrix ------------------------------------------------------------------------------------------


def matrix_header(marking: Marking, filters_text: str) -> list[str]:
    """The '#' lines heading the matrix CSV: marking, filters in words, source credits."""
    lines = [marking.label, f"Filters: {filters_text}"]
    credits = source_credits(marking)
    if credits:
        lines.append(f"Sources: {'; '.join(credits)}")
    return lines


def _matrix_frame(data: MatrixData, names: dict[str, str]) -> pd.DataFrame:
    """The cells as plain rows (escaped when written, by `csv_bytes`)."""
    rows = []
    for cell in data.cells.to_dict("records"):
        tid = str(cell["technique_id"])
        rows.append(
            {
                "technique_id": tid,
                "technique": names.get(tid, ""),
                "parent_id": cell["parent_id"] if isinstance(cell["parent_id"], str) else "",
                "incidents": int(cell["incidents"]),
                "reported_by_uk": int(cell["uk"]),
                "reported_by_au": int(cell["au"]),
                "covering_benchmarks": "; ".join(cell["benchmarks"]),
                "gap_incidents": int(cell["gap_incidents"]),
            }
        )
    return pd.DataFrame(rows) if rows else pd.DataFrame({"technique_id": pd.Series([], dtype=str)})


def matrix_csv(
    store: Store,
    viewer: Viewer,
    data: MatrixData,
    names: dict[str, str],
    marking: Marking,
    f: Filters,
    today: date,
    mode: str,
) -> bytes:
    """The matrix page's download: the cells as CSV, headed by their marking, the filters in words and the
    source credits, and the audit entry of the export."""
    return export_csv(
        store,
        viewer,
        _matrix_frame(data, names),
        marking,
        header=matrix_header(marking, f.describe(today)),
        obj=f"matrix:{mode}",
        kind="matrix",
        filters=f,
    )
