"""Migration 016 (the integer incident key): a store written at 015 opens with every incident keyed, every
technique row keyed by its incident, nothing else changed, and the threat matrix counting exactly what it
counted over the text ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.filters import Filters
from analytics.matrix import queries as matrix
from analytics.store import incident_keys
from analytics.store.database import Store, load_migrations
from tests.conftest import TODAY, UK_ANALYST, store_before

# What the matrix reads (and the users the markings name); the eval samples are left out (not read by it).
_COPIED = (
    "incidents",
    "incident_techniques",
    "atlas_tactics",
    "atlas_techniques",
    "atlas_technique_tactics",
    "benchmark_techniques",
    "eval_runs",
)


def _old_store(path: Path, demo: Store) -> None:
    """A store at schema 015 holding the demo store's records (as written before 016), plus one technique row
    whose incident is gone."""
    old = store_before(path, 16)
    src = demo.cursor()
    for table in _COPIED:
        cols = [r[0] for r in old.execute(f"describe {table}").fetchall()]
        old.execute(f"delete from {table}")  # shipped defaults (004) arrive again with the demo's rows
        data = src.sql(f"select {', '.join(cols)} from {table}").to_arrow_table()  # noqa: F841 (read below)
        old.execute(f"insert into {table} ({', '.join(cols)}) select {', '.join(cols)} from data")
    old.execute("insert into incident_techniques values ('GONE-1', 'AML.T0051')")
    old.close()


def _figures_over_text_ids(path: Path) -> dict[str, Any]:
    """The matrix's counts computed independently, over the text ids, on the store as it is (read-only)."""
    con = duckdb.connect(str(path), read_only=True)
    where, params = Filters().sql_where(UK_ANALYST, TODAY)
    rows = f"from incidents i join incident_techniques it on it.incident_id = i.id where {where}"
    per = "count(distinct i.id), count(distinct i.id) filter (i.originator = 'UK'), " + (
        "count(distinct i.id) filter (i.originator = 'AU')"
    )
    parents = con.execute(f"select left(it.technique_id, 9), {per} {rows} group by 1", params).fetchall()
    subs = con.execute(
        f"select it.technique_id, {per} {rows} and it.technique_id <> left(it.technique_id, 9) group by 1",
        params,
    ).fetchall()
    total = con.execute(f"select count(*) from incidents i where {where}", params).fetchone()
    cited = con.execute(f"select count(distinct i.id) {rows}", params).fetchone()
    con.close()
    return {
        "cells": {r[0]: tuple(r[1:]) for r in parents + subs},
        "incidents": total[0] if total else None,
        "with_techniques": cited[0] if cited else None,
    }


def _stored(con: duckdb.DuckDBPyConnection) -> tuple[list[Any], list[Any]]:
    cols = [r[0] for r in con.execute("describe incidents").fetchall() if r[0] != "incident_key"]
    incidents = con.execute(f"select {', '.join(cols)} from incidents order by id").fetchall()
    techniques = con.execute(
        "select incident_id, technique_id from incident_techniques order by 1, 2"
    ).fetchall()
    return incidents, techniques


def test_a_store_at_015_migrates_with_keys_and_the_matrix_counts_the_same(
    tmp_path: Path, demo_store: Store
) -> None:
    path = tmp_path / "at-015.duckdb"
    _old_store(path, demo_store)
    before = _figures_over_text_ids(path)
    raw = duckdb.connect(str(path), read_only=True)
    incidents_before, techniques_before = _stored(raw)
    raw.close()
    assert before["with_techniques"] and before["with_techniques"] > 1000

    s = Store(path)
    assert s.schema_version() == load_migrations()[-1].version
    con = s.cursor()
    # nothing else changed: the same incidents, and the same techniques but the orphan, kept aside unchanged
    incidents_after, techniques_after = _stored(con)
    assert incidents_after == incidents_before
    assert techniques_after == [t for t in techniques_before if t[0] != "GONE-1"]
    assert con.execute("select * from incident_techniques_unkeyed").fetchall() == [("GONE-1", "AML.T0051")]
    # every incident has its own key, and every technique row carries its incident's
    assert (
        con.execute(
            "select count(*), count(distinct incident_key), count(incident_key) from incidents"
        ).fetchone()
        == (len(incidents_before),) * 3
    )
    assert con.execute(
        "select count(*) from incident_techniques it join incidents i on i.incident_key = it.incident_key "
        "where i.id <> it.incident_id"
    ).fetchone() == (0,)

    data = matrix.recompute(con, UK_ANALYST, Filters(), TODAY).data
    cells = data.cells.set_index("technique_id")
    for tid, (n, uk, au) in before["cells"].items():
        if tid in cells.index:
            assert (cells.at[tid, "incidents"], cells.at[tid, "uk"], cells.at[tid, "au"]) == (n, uk, au), tid
    counted = {t for t in before["cells"] if t in cells.index}
    assert (cells.loc[~cells.index.isin(counted), "incidents"] == 0).all()
    assert (data.incidents, data.with_techniques) == (before["incidents"], before["with_techniques"])

    # a new incident after the migration takes the next key, and its techniques take the incident's
    with s.transaction() as w:
        w.execute(
            "insert into incidents (id, title, occurred_on, originator, source, category, severity, tlp, "
            "releasable_to) values ('UK-NEW-1', 't', date '2026-10-01', 'UK', 'institute', 'Jailbreak', 3, "
            "'CLEAR', ['AU', 'UK'])"
        )
        incident_keys.add_techniques(w, "UK-NEW-1", ["AML.T0051", "AML.T0051"])
    assert con.execute(
        "select i.incident_key = (select max(incident_key) from incidents), list(it.technique_id) "
        "from incidents i join incident_techniques it on it.incident_key = i.incident_key "
        "where i.id = 'UK-NEW-1' group by i.incident_key"
    ).fetchone() == (True, ["AML.T0051"])
    s.close()


def test_a_technique_row_for_no_incident_is_refused_not_left_uncounted(tmp_path: Path) -> None:
    s = Store(tmp_path / "a.duckdb")
    with pytest.raises(duckdb.ConstraintException, match="incident_key"), s.transaction() as w:
        incident_keys.add_techniques(w, "NOPE-1", ["AML.T0051"])
    # the old two-column insert cannot slip a row in without its key
    with pytest.raises(duckdb.BinderException), s.transaction() as w:
        w.execute("insert into incident_techniques values ('NOPE-1', 'AML.T0051')")
    assert s.cursor().execute("select count(*) from incident_techniques").fetchone() == (0,)
    s.close()
