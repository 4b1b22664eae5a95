"""Marked exports: formula cells escaped, the marking on the first line and in the name, Parquet metadata."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from analytics.access.markings import Marking
from analytics.export.table import escape_cell, export_filename, to_csv_bytes, to_parquet_bytes
from analytics.filters import Filters
from analytics.incidents import explorer as incident_explorer
from tests.analytics.incidents.test_incidents_explorer import seed_known_incidents
from tests.conftest import TODAY, UK_ANALYST


def test_formula_like_cells_are_escaped() -> None:
    for risky in ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx"]:
        assert escape_cell(risky) == "'" + risky
    # a bare CR would end the row in a spreadsheet: it is escaped and kept as a line feed (which gets quoted)
    assert escape_cell("\rx") == "'\nx"
    assert escape_cell("a\r=HYPERLINK()") == "a\n=HYPERLINK()"
    for safe in ["plain", " =not first", "", "1+1"]:
        assert escape_cell(safe) == safe


def test_csv_has_the_marking_first_and_escapes_every_text_cell() -> None:
    df = pd.DataFrame(
        {
            "id": ["a", "b"],
            "title": ['=HYPERLINK("http://x","y")', "fine, with a comma"],
            "count": [-3, 4],
            "sectors": [np.array(["-x", "y"], dtype=object), np.array([], dtype=object)],
            "occurred_on": pd.to_datetime(["2026-01-02", None]),
            "note": pd.Series(["@me", None], dtype="str"),
        }
    )
    text = to_csv_bytes(
        df, Marking("AMBER", ("UK",)), description="category: Jailbreak\nq", exported_on=date(2026, 11, 20)
    ).decode()
    lines = text.splitlines()
    assert lines[0] == "# TLP:AMBER · releasable to UK · exported 2026-11-20 · 2 rows · category: Jailbreak q"
    assert lines[1] == "id,title,count,sectors,occurred_on,note"
    assert lines[2] == 'a,"\'=HYPERLINK(""http://x"",""y"")",-3,\'-x; y,2026-01-02,\'@me'
    assert lines[3] == 'b,"fine, with a comma",4,,,'
    parsed = pd.read_csv(io.StringIO(text), comment=None, skiprows=1)
    assert parsed["count"].tolist() == [-3, 4]  # numbers stay numbers


def test_file_name_carries_date_and_marking() -> None:
    m = Marking("AMBER+STRICT", ("UK",))
    assert export_filename("incidents", m, "csv", TODAY) == "incidents_2026-11-20_TLP-AMBER-STRICT_REL-UK.csv"
    assert export_filename("../etc/passwd", Marking(), ".csv", TODAY).startswith(
        "etc-passwd_2026-11-20_TLP-CLEAR"
    )


def test_parquet_keeps_lists_and_the_marking() -> None:
    df = pd.DataFrame({"id": ["a"], "sectors": [["finance", "retail"]]})
    data = to_parquet_bytes(df, Marking("RED", ("UK",)), description="last 90 days")
    table = pq.read_table(io.BytesIO(data))
    meta = table.schema.metadata
    assert meta[b"tlp"] == b"RED" and meta[b"releasable_to"] == b"UK"
    assert meta[b"marking"] == "TLP:RED · releasable to UK".encode()
    assert table.to_pydict()["sectors"] == [["finance", "retail"]]


def test_the_explorer_export_of_known_rows(store) -> None:
    seed_known_incidents(store)
    out = incident_explorer.incidents_for_export(store.cursor(), UK_ANALYST, Filters(), TODAY)
    text = to_csv_bytes(out.data, out.marking, exported_on=TODAY).decode()
    lines = text.splitlines()
    assert lines[0].startswith("# TLP:AMBER · releasable to AU and UK · exported 2026-11-20 · 6 rows")
    assert "SECRET" not in text  # the AU-only and RED rows are not there
    last = lines[-1]
    assert last.startswith("T-0008,2025-01-10,")
    assert '"\'=HYPERLINK(""http://evil.example"",""click"")"' in last
    assert "'@SUM(1+1) planted in a partner feed" in last
    assert ",'-cmd,'+in-house," in last


def test_incidents_csv_holds_the_visible_rows_never_marks_below_the_name_and_is_audited(store) -> None:
    import json

    from analytics.export.table import incidents_csv

    store.incident(title="Seen", tlp="GREEN")
    store.incident(title="Hidden", tlp="AMBER+STRICT", originator="AU", releasable_to=["AU", "UK"])
    data = incidents_csv(
        store.store, UK_ANALYST, Filters(), TODAY, "Date", True, at_least=Marking("AMBER", ("UK",), 5)
    )
    text = data.decode("utf-8")
    assert text.splitlines()[0].startswith("# TLP:AMBER")  # the file name's marking, not the rows' GREEN
    assert "Seen" in text and "Hidden" not in text
    row = (
        store.cursor()
        .execute("select email, object, detail from audit_log where action = 'export'")
        .fetchone()
    )
    assert row[:2] == (UK_ANALYST.email, "table:incidents")
    assert json.loads(row[2])["rows"] == 1
