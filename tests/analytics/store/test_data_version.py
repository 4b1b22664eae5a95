"""The data version row (migration 015): one row per committed write transaction that changes what cached results
read, written inside that transaction, so any process reading the store sees the version move with the write."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.store.database import Store


def _versions(s: Store) -> list[tuple[int, bool]]:
    return [(int(v), bool(r)) for v, r in s.cursor().execute(
        "select version, records_changed from data_versions order by version"
    ).fetchall()]  # fmt: skip


def test_each_committed_write_adds_a_version_row_and_a_rolled_back_one_does_not(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.duckdb")
    try:
        start = _versions(s)
        assert len(start) == 1  # the migration's own row
        with s.transaction() as cur:
            cur.execute("insert into store_meta (key, value) values ('a', '1')")
        with s.transaction(changes_records=False) as cur:
            cur.execute("insert into store_meta (key, value) values ('b', '1')")
        with s.transaction(changes_data=False) as cur:  # audit-only: nothing cached reads it
            cur.execute("insert into store_meta (key, value) values ('c', '1')")
        with pytest.raises(RuntimeError), s.transaction() as cur:
            cur.execute("insert into store_meta (key, value) values ('d', '1')")
            raise RuntimeError("refused half-way")
        rows = _versions(s)
        assert [r for _, r in rows[1:]] == [True, False]
        assert rows[1][0] > rows[0][0] and rows[2][0] > rows[1][0]
    finally:
        s.close()


def test_two_overlapping_writers_both_commit_their_version_rows(tmp_path: Path) -> None:
    """Rows are added with ids from a sequence, so the version row never turns two unrelated writes into a write
    conflict (a single counter row would)."""
    s = Store(tmp_path / "s.duckdb")
    try:
        with s.transaction() as a:
            a.execute("insert into store_meta (key, value) values ('a', '1')")
            with s.transaction() as b:
                b.execute("insert into store_meta (key, value) values ('b', '1')")
        assert len(_versions(s)) == 3
    finally:
        s.close()


def test_reopening_the_store_keeps_only_the_version_rows_the_cache_key_reads(tmp_path: Path) -> None:
    """The table would otherwise gain a row per write forever; the newest row and the newest that changed records
    are the only ones read, and both survive, so the cache key is the same before and after."""
    path = tmp_path / "s.duckdb"
    s = Store(path)
    try:
        for i in range(3):
            with s.transaction() as cur:
                cur.execute("insert into store_meta (key, value) values (?, '1')", [f"r{i}"])
        with s.transaction(changes_records=False) as cur:
            cur.execute("insert into store_meta (key, value) values ('v', '1')")
        before = _versions(s)
        assert len(before) == 5
    finally:
        s.close()
    s = Store(path)
    try:
        assert _versions(s) == [before[3], before[4]]
        with s.transaction() as cur:
            cur.execute("insert into store_meta (key, value) values ('after', '1')")
        assert _versions(s)[-1][0] > before[4][0]  # the sequence carries on past the pruned rows
    finally:
        s.close()
