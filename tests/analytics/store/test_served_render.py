"""The served store's one departure from bound parameters: Quack's query call takes SQL text, so the values the
app bound are rendered into it by DuckDB's own literals (analytics/store/served.py `render`). Checked here on a
real DuckDB: the rendered statement answers exactly as the bound one, whatever the value holds."""

from __future__ import annotations

import re
from datetime import date, datetime

import duckdb
import pytest

from analytics.store.database import StoreError
from analytics.store.served import parse_target, render

HOSTILE = ["it's", "'; drop table t; --", "?", "$x", "\\' or 1=1 --", "é—\u202e", "", "line\nbreak"]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("create table t (s varchar, d date, ts timestamp, n bigint, x double, tags varchar[])")
    c.executemany(
        "insert into t values (?, ?, ?, ?, ?, ?)",
        [
            [h, date(2024, 1, 2), datetime(2024, 1, 2, 3, 4, 5), i, i / 3, [h, "UK"]]
            for i, h in enumerate(HOSTILE)
        ],
    )
    return c


@pytest.mark.parametrize("value", HOSTILE)
def test_a_rendered_string_matches_exactly_what_the_bound_one_matches(
    con: duckdb.DuckDBPyConnection, value: str
) -> None:
    sql = "select n from t where s = ? and list_contains(tags, ?) order by n"
    bound = con.execute(sql, [value, value]).fetchall()
    assert con.execute(render(sql, [value, value])).fetchall() == bound == [(HOSTILE.index(value),)]
    assert con.execute("select count(*) from t").fetchone() == (len(HOSTILE),)  # nothing dropped


def test_dates_numbers_lists_and_nulls_render_as_values(con: duckdb.DuckDBPyConnection) -> None:
    sql = "select count(*) from t where d = ? and ts <= ? and n < ? and x >= ? and s = any(?) and ? is null"
    params = [date(2024, 1, 2), datetime(2024, 1, 2, 3, 4, 5), 3, 0.0, ["it's", "?"], None]
    assert con.execute(render(sql, params)).fetchone() == con.execute(sql, params).fetchone() == (2,)


def test_named_parameters_and_placeholders_inside_quotes_and_comments(con: duckdb.DuckDBPyConnection) -> None:
    sql = "select count(*) from t where s <> '?' and s <> '$v' -- a ? here is not a parameter\n and s = $v"
    assert con.execute(render(sql, {"v": "$x"})).fetchone() == (1,)


@pytest.mark.parametrize(
    ("sql", "params", "message"),
    [
        ("select ?", [], "query has more ? placeholders than the 0 values given"),
        ("select 1", [1], "query has 0 ? placeholders but 1 value given"),
        ("select $a", {"b": 1}, "query parameter $a has no value"),
    ],
)
def test_a_mismatch_is_refused_in_one_line(sql: str, params: object, message: str) -> None:
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        render(sql, params)  # type: ignore[arg-type]


def test_a_malformed_target_is_refused_naming_it() -> None:
    assert parse_target("quack:127.0.0.1:9494") == ("127.0.0.1", 9494)
    with pytest.raises(StoreError, match="^" + re.escape("THREAT_DB='quack:host': a served store is named")):
        parse_target("quack:host")
