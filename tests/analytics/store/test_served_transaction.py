"""The pieces of a served transaction that need no server (analytics/store/served.py): a local table the importers
register travels to the server as a `create temp table` statement that must hold exactly the same rows, and
every RETURNING the app sends inside a transaction must be the one form a served transaction can take."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from analytics.store.served import _INSERT_RETURNING_ID, _is_read, _temp_table, render
from tests.analytics.store.test_served_render import HOSTILE

ROOT = Path(__file__).resolve().parents[3]


def test_a_registered_table_travels_as_a_temp_table_with_the_same_rows_and_types() -> None:
    n = len(HOSTILE)
    table = pa.table(
        {
            "rid": pa.array(HOSTILE, pa.string()),
            "on": pa.array([date(2024, 1, i + 1) for i in range(n)], pa.date32()),
            "at": pa.array([datetime(2024, 1, 2, 3, 4, i) for i in range(n)], pa.timestamp("us")),
            "severity": pa.array([None, *range(1, n)], pa.int32()),
            "score": pa.array([i / 3 for i in range(n)], pa.float64()),
            "tags": pa.array([[h, "UK"] for h in HOSTILE], pa.list_(pa.string())),
            'odd "name"': pa.array([True] * n, pa.bool_()),
        }
    )
    local = duckdb.connect()
    create = _temp_table(local, "staged", table)
    server = duckdb.connect()
    server.execute(create)
    local.register("want", table)
    assert server.execute("describe staged").fetchall() == local.execute("describe want").fetchall()
    assert server.execute("from staged").fetchall() == local.execute("from want").fetchall()


def test_an_empty_registered_table_travels_with_its_columns() -> None:
    table = pa.table({"rid": pa.array([], pa.string()), "n": pa.array([], pa.int64())})
    server = duckdb.connect()
    server.execute(_temp_table(duckdb.connect(), "staged", table))
    assert server.execute("select column_name, column_type from (describe staged)").fetchall() == [
        ("rid", "VARCHAR"),
        ("n", "BIGINT"),
    ]
    assert server.execute("from staged").fetchall() == []


def test_every_returning_the_app_sends_is_the_form_a_served_transaction_takes() -> None:
    """`insert into T (…) values (…) returning id`, rendered: its id is taken from T's sequence first."""
    found = []
    for path in [*ROOT.joinpath("analytics").rglob("*.py"), *ROOT.joinpath("pages").rglob("*.py")]:
        text = path.read_text()
        for m in re.finditer(r"\(\s*((?:\"[^\"]*\"\s*)+),", text):
            sql = "".join(re.findall(r"\"([^\"]*)\"", m.group(1)))
            if re.search(r"\breturning\b", sql, re.I) and sql.lstrip().lower().startswith("insert"):
                found.append((path.name, sql))
    assert len(found) >= 4  # saved views, assessments, their comments, mapping history
    for name, sql in found:
        rendered = render(sql, ["x"] * sql.count("?"))
        assert _INSERT_RETURNING_ID.fullmatch(rendered), (name, sql)


def test_only_statements_that_only_read_run_as_reads() -> None:
    """A read runs at once and is rolled back; a write mistaken for one would be lost, so anything that writes,
    however it starts, waits for the commit."""
    assert _is_read("select * from audit_log where action = 'update x set y' and detail = 'insert into t'")
    assert _is_read("  (select 1) union (select 2)")
    assert _is_read("with t as (select 1 as a) select * from t")
    assert _is_read('from incidents where "delete from" = 1')
    assert not _is_read("with t as (select 1 as a) insert into x select * from t")
    assert not _is_read("insert or replace into eval_thresholds values (1)")
    assert not _is_read("update assessments set current_version = 2 where id = 1")
    assert not _is_read("delete from watches where view_id = 1")
    assert not _is_read("create or replace temp table staged as select 1")
