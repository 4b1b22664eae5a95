"""The store on real DuckDB files: migrations, refusals with clear messages, transactions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from analytics.store.database import (
    Store,
    StoreCorrupt,
    StoreLocked,
    StoreTooNew,
    WriteConflict,
    close_all,
    load_migrations,
    open_store,
)
from tests.conftest import store_before

ROOT = Path(__file__).resolve().parents[3]


def test_new_store_is_migrated_to_latest(tmp_path: Path) -> None:
    s = Store(tmp_path / "a.duckdb")
    assert s.schema_version() == load_migrations()[-1].version
    tables = {r[0] for r in s.db.execute("select table_name from information_schema.tables").fetchall()}
    assert {"incidents", "incident_techniques", "eval_runs", "eval_samples", "users", "audit_log"} <= tables
    s.close()
    # reopening applies nothing new
    s2 = Store(tmp_path / "a.duckdb")
    assert s2.db.execute("select count(*) from schema_version").fetchone() == (len(load_migrations()),)
    s2.close()


def test_open_store_reuses_one_instance_per_path(tmp_path: Path) -> None:
    a = open_store(tmp_path / "x.duckdb")
    b = open_store(str(tmp_path / "x.duckdb"))
    assert a is b
    close_all()


def test_text_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    p = tmp_path / "notes.duckdb"
    p.write_text("these are my notes, not a database\n" * 100)
    before = p.read_bytes()
    with pytest.raises(StoreCorrupt, match="not a readable DuckDB store"):
        Store(p)
    assert p.read_bytes() == before


def test_foreign_duckdb_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "other.duckdb"
    con = duckdb.connect(str(p))
    con.execute("create table customers (id int)")
    con.close()
    with pytest.raises(StoreCorrupt, match="not a threat-dashboard store"):
        Store(p)
    con = duckdb.connect(str(p))
    assert con.execute("select count(*) from information_schema.tables").fetchone() == (1,)
    con.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "future.duckdb"
    Store(p).close()
    con = duckdb.connect(str(p))
    con.execute("insert into schema_version values (999, 'from_the_future', current_timestamp)")
    con.close()
    with pytest.raises(StoreTooNew, match="schema version 999, newer than this app understands"):
        Store(p)


def test_locked_store_gets_a_clear_message(tmp_path: Path) -> None:
    p = tmp_path / "locked.duckdb"
    Store(p).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(p)!r}); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLocked, match="in use by another process"):
            Store(p)
    finally:
        holder.kill()
        holder.wait()


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    s = Store(tmp_path / "t.duckdb")
    with pytest.raises(RuntimeError), s.transaction() as con:
        con.execute(
            "insert into users values ('x@uk.example', 'X', 'UK', 'analyst', true, current_timestamp)"
        )
        raise RuntimeError("boom")
    assert s.db.execute("select count(*) from users").fetchone() == (0,)
    gen = s.generation
    with s.transaction() as con:
        con.execute(
            "insert into users values ('x@uk.example', 'X', 'UK', 'analyst', true, current_timestamp)"
        )
    assert s.generation == gen + 1
    s.close()


def test_two_overlapping_edits_of_one_row_keep_the_first_and_refuse_the_second_clearly(
    tmp_path: Path,
) -> None:
    from analytics.evals import queries as evals
    from tests.conftest import AU_ANALYST, UK_ANALYST, StoreBuilder

    b = StoreBuilder(Store(tmp_path / "t.duckdb"))
    b.eval_run(benchmark="Cybench")
    s = b.store
    with s.transaction() as con:
        evals.set_threshold(con, UK_ANALYST, "Cybench", 0.1)
    gen = s.generation
    with s.transaction() as first:  # two analysts' saves overlap; the UK one commits first
        evals.set_threshold(first, UK_ANALYST, "Cybench", 0.5)
        with pytest.raises(WriteConflict) as refused, s.transaction() as second:
            evals.set_threshold(second, AU_ANALYST, "Cybench", 0.7)
    assert isinstance(refused.value, ValueError)  # pages show it like other refused input
    assert "nothing was saved" in str(refused.value)
    assert s.db.execute("select threshold, set_by from eval_thresholds").fetchall() == [
        (0.5, "analyst@uk.example")
    ]
    logged = s.db.execute(
        "select email from audit_log where action = 'eval threshold set' order by id"
    ).fetchall()
    assert logged == [("analyst@uk.example",), ("analyst@uk.example",)]
    assert s.generation == gen + 1
    s.close()


def test_hardened_store_refuses_file_access_and_setting_changes(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("a\n1\n")
    s = Store(tmp_path / "h.duckdb")
    s.harden()
    con = s.cursor()
    for sql in (
        f"select * from read_csv('{tmp_path / 'secret.csv'}')",
        f"attach '{tmp_path / 'other.duckdb'}' as o",
        f"copy incidents to '{tmp_path / 'out.csv'}'",
        "set enable_external_access = true",
        "set memory_limit = '20GB'",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(sql)
    # ordinary reads and writes still work
    with s.transaction() as tx:
        tx.execute("insert into audit_log (email, action) values ('a@uk.example', 'test')")
    assert con.execute("select count(*) from audit_log").fetchone() == (1,)
    s.close()


def test_cli_reports_a_corrupt_store_in_one_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.duckdb"
    p.write_text("garbage")
    r = subprocess.run(
        [sys.executable, "-m", "analytics", "demo", "--db", str(p), "--force", "--incidents", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    # --force replaces the file on purpose; without it the file is left alone
    assert r.returncode == 0
    p.write_text("garbage")
    r = subprocess.run(
        [sys.executable, "-m", "analytics", "demo", "--db", str(p)], capture_output=True, text=True, cwd=ROOT
    )
    assert r.returncode == 0 and "leaving it untouched" in r.stdout
    assert p.read_text() == "garbage"


def test_audit_only_entries_leave_cached_results_valid_and_data_writes_do_not(tmp_path: Path) -> None:
    from analytics.accounts import identity
    from analytics.store import audit
    from tests.conftest import UK_ANALYST, StoreBuilder

    b = StoreBuilder(Store(tmp_path / "t.duckdb"))
    s = b.store
    gen = s.generation
    identity.record_sign_in(s, UK_ANALYST, "demo")
    audit.append(s, UK_ANALYST.email, "export", "chart:by_category")
    assert s.generation == gen  # a sign-in or an export changes nothing a cached result reads
    logged = s.db.execute("select action from audit_log order by id").fetchall()
    assert logged[-2:] == [("sign-in",), ("export",)]
    b.incident()
    assert s.generation == gen + 1
    s.close()


def test_assessment_saves_leave_results_over_the_records_cached(tmp_path: Path) -> None:
    from analytics import session
    from analytics.assessments.model import AssessmentDraft
    from analytics.assessments.reads import latest_approved
    from analytics.assessments.workflow import create_assessment
    from analytics.evals import comparisons
    from analytics.incidents import overview as incident_overview
    from tests.conftest import TODAY, UK_ANALYST, StoreBuilder

    b = StoreBuilder(Store(tmp_path / "t.duckdb"))
    s = b.store
    gen, rec = s.generation, s.record_generation
    create_assessment(s, UK_ANALYST, AssessmentDraft(title="A"), today=TODAY)
    assert (s.generation, s.record_generation) == (gen + 1, rec)
    # results over the records keep their key; everything else (assessments, briefings) is recomputed
    assert session.generation_for(incident_overview.overview_summary, s) == rec
    assert session.generation_for(comparisons.compare_models, s) == rec
    assert session.generation_for(latest_approved, s) == gen + 1
    b.incident()
    assert (s.generation, s.record_generation) == (gen + 2, rec + 1)
    s.close()


def test_migration_008_makes_public_records_public_and_keeps_everything_else(tmp_path: Path) -> None:
    """A store written before migration 008 (public records borrowed UK) opens with ATLAS/AIID records as PUBLIC,
    a date on the 1st of a month from a public source as month precision, and institute records untouched."""

    path = tmp_path / "old.duckdb"
    con = store_before(path, 8)
    rows = [
        ("AIID-1", "2020-01-01", "UK", "aiid"),
        ("AIID-2", "2020-01-17", "AU", "aiid"),
        ("AML.CS0001", "2021-03-01", "UK", "atlas"),
        ("UK-1", "2026-11-01", "UK", "institute"),
        ("AU-1", "2026-11-02", "AU", "stix"),
    ]
    for rid, day, originator, source in rows:
        con.execute(
            "insert into incidents (id, title, occurred_on, originator, source, category, severity, tlp, "
            "releasable_to) values (?, 't', ?, ?, ?, 'Jailbreak', 3, 'CLEAR', ['AU', 'UK'])",
            [rid, day, originator, source],
        )
    con.close()
    s = Store(path)
    assert s.schema_version() == load_migrations()[-1].version
    got = s.db.execute("select id, originator, occurred_precision from incidents order by id").fetchall()
    assert got == [
        ("AIID-1", "PUBLIC", "month"),
        ("AIID-2", "PUBLIC", "day"),
        ("AML.CS0001", "PUBLIC", "month"),
        ("AU-1", "AU", "day"),
        ("UK-1", "UK", "day"),
    ]
    s.close()
