"""The one statement of the record columns matches the tables a migrated store really has."""

from __future__ import annotations

import pyarrow as pa

from analytics import records
from tests.conftest import StoreBuilder


def _table_columns(store: StoreBuilder, table: str) -> list[tuple[str, str]]:
    con = store.store.cursor()
    try:
        return [
            (r[0], r[1])
            for r in con.execute(
                "select column_name, data_type from information_schema.columns where table_name = ? "
                "order by ordinal_position",
                [table],
            ).fetchall()
        ]
    finally:
        con.close()


def test_incident_columns_are_the_migrated_table_in_order(store: StoreBuilder) -> None:
    assert [c for c, _ in _table_columns(store, "incidents")] == list(records.INCIDENT_COLUMNS)


def test_eval_run_columns_are_the_migrated_table_in_order(store: StoreBuilder) -> None:
    assert [c for c, _ in _table_columns(store, "eval_runs")] == list(records.EVAL_RUN_COLUMNS)


def test_record_columns_leave_out_only_the_importers_bookkeeping() -> None:
    assert "source" not in records.INCIDENT_RECORD_COLUMNS
    assert "import_batch" not in records.EVAL_RUN_RECORD_COLUMNS
    assert records.INCIDENT_RECORD_COLUMNS[:3] == ("id", "title", "summary")
    assert records.INCIDENT_RECORD_COLUMNS[-2:] == ("tags", "occurred_precision")
    assert records.EVAL_RUN_RECORD_COLUMNS[-3:] == ("tlp", "releasable_to", "named_recipients")


def test_arrow_types_are_the_store_types(store: StoreBuilder) -> None:
    """A list column is a list, a date a date: an importer's typed table casts without loss."""
    expect = {
        "VARCHAR": pa.string(),
        "DATE": pa.date32(),
        "TINYINT": pa.int8(),
        "VARCHAR[]": pa.list_(pa.string()),
    }
    for table, types in (("incidents", records.INCIDENT_TYPES), ("eval_runs", records.EVAL_RUN_TYPES)):
        for column, sql_type in _table_columns(store, table):
            if sql_type in expect:
                assert types[column] == expect[sql_type], (table, column)


def test_column_list_prefixes_an_alias() -> None:
    assert records.column_list(("id", "title"), "i") == "i.id, i.title"
    assert records.column_list(("id", "title")) == "id, title"
