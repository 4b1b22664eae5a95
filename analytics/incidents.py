"""Viewer-scoped questions about incidents. One function per question, named after its answer.

Each takes a cursor, the viewer and the filters; markings and filters become one WHERE clause with bound
parameters (`Filters.sql_where`), and each result carries the marking of the rows behind it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pandas as pd

from analytics.filters import Filters
from analytics.markings import Marking, Scoped, highest_marking, marking_from_row, marking_select_sql
from analytics.viewer import Viewer

# Filterable dimensions: option name -> SQL expression over `incidents i` yielding one value per row.
# List columns are unnested so each sector or country counts once per incident.
OPTION_COLUMNS: dict[str, str] = {
    "originators": "i.originator",
    "categories": "i.category",
    "sectors": "unnest(i.sectors)",
    "countries": "unnest(i.countries)",
    "severities": "i.severity",
    "actor_types": "i.actor_type",
    "tlps": "i.tlp",
    "statuses": "i.status",
}


def marking_of(con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date) -> Marking:
    where, params = f.sql_where(viewer, today)
    return highest_marking(con, "incidents i", where, params)


def counts_by_originator_and_category(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[pd.DataFrame]:
    """Incident counts per originator and category, for what this viewer may see under these filters."""
    where, params = f.sql_where(viewer, today)
    df = con.execute(
        f"select originator, category, count(*) as incidents from incidents i where {where} "
        "group by all order by originator, incidents desc, category",
        params,
    ).df()
    return Scoped(df, highest_marking(con, "incidents i", where, params))


def filter_options(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, today: date
) -> dict[str, list[tuple[Any, int]]]:
    """Values each filter can take and how many visible incidents have them, computed only over visible rows.

    Options ignore the other filters on purpose (choices don't vanish as one narrows) but never the markings.
    """
    where, params = Filters().sql_where(viewer, today)
    out: dict[str, list[tuple[Any, int]]] = {}
    for name, expr in OPTION_COLUMNS.items():
        rows = con.execute(
            f"select v, count(*) as n from (select {expr} as v from incidents i where {where}) "
            "where v is not null group by v order by n desc, v",
            params,
        ).fetchall()
        out[name] = [(v, int(n)) for v, n in rows]
    out["techniques"] = [
        (v, int(n))
        for v, n in con.execute(
            f"select it.technique_id, count(distinct it.incident_id) as n from incident_techniques it "
            f"join incidents i on i.id = it.incident_id where {where} group by 1 order by n desc, 1",
            params,
        ).fetchall()
    ]
    out["tactics"] = [
        (v, int(n))
        for v, n in con.execute(
            f"select tt.tactic_id, count(distinct it.incident_id) as n from incident_techniques it "
            "join atlas_technique_tactics tt on tt.technique_id = it.technique_id "
            "or tt.technique_id = left(it.technique_id, 9) "
            f"join incidents i on i.id = it.incident_id where {where} group by 1 order by n desc, 1",
            params,
        ).fetchall()
    ]
    return out


def store_totals(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[dict[str, int]]:
    """Visible incidents, and how many per originator, with the marking of all of them."""
    where, params = f.sql_where(viewer, today)
    row = con.execute(
        f"select count(*) filter (i.originator = 'UK'), count(*) filter (i.originator = 'AU'), "
        f"{marking_select_sql('i')} from incidents i where {where}",
        params,
    ).fetchone()
    assert row is not None
    uk, au, *m = row
    return Scoped({"UK": int(uk), "AU": int(au), "total": int(uk) + int(au)}, marking_from_row(*m))
