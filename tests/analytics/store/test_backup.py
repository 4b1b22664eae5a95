"""Backups and restores on real store files: in-process, under concurrent writes, through the CLI, and handed
over to a running Streamlit server that holds the store."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from analytics.demo.generator import build_demo
from analytics.store import audit, backup
from analytics.store.database import Store, close_all, open_store
from tests.conftest import ROOT
from tests.load.protocol import ProtocolSession
from tests.load.server import AppServer


def _counts(path: Path) -> dict[str, int]:
    db = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            r[0]
            for r in db.execute(
                "select table_name from information_schema.tables where table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        return {n: db.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}
    finally:
        db.close()


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def _demo_file(path: Path, incidents: int) -> Path:
    s = Store(path)
    build_demo(s, incidents=incidents, seed=3)
    s.close()
    return path


@pytest.fixture(scope="module")
def source_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _demo_file(tmp_path_factory.mktemp("backup") / "src.duckdb", 300)


@pytest.fixture
def made(source_db: Path, tmp_path: Path) -> backup.BackupResult:
    return backup.backup_offline(source_db, tmp_path / "b", actor="t")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Path]:
    """A store held by another process that knows nothing about backups (a CLI import, say)."""
    path = tmp_path / "held.duckdb"
    s = Store(path)
    s.close()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; db=duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(120)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield path
    proc.kill()
    proc.wait()


def test_backup_of_an_open_store_is_a_verified_copy(store, tmp_path: Path) -> None:
    for k in range(25):
        store.incident(title=f"row {k}")
    result = backup.backup_store(store.store, tmp_path / "out", actor="admin@joint.example")
    copy = Path(result.path)
    assert copy.parent == (tmp_path / "out").resolve() and copy.suffix == ".duckdb"
    manifest = json.loads(Path(result.manifest).read_text())
    assert manifest["sha256"] == result.sha256 == backup._sha256(copy)
    assert manifest["tables"]["incidents"] == 25 and manifest["tables"]["users"] == 7
    assert manifest["schema_version"] == store.store.schema_version()
    assert _counts(copy)["incidents"] == 25
    # the backup is audited in the live store, before the copy was taken (so the copy holds its own entry)
    log = (
        store.cursor()
        .execute("select email, action, object from audit_log where action = 'backup'")
        .fetchall()
    )
    assert log == [("admin@joint.example", "backup", copy.name)]
    in_copy = duckdb.connect(str(copy), read_only=True)
    assert in_copy.execute("select email, action, object from audit_log").fetchall() == log
    in_copy.close()


def test_backup_during_concurrent_writes_is_a_consistent_snapshot(store, tmp_path: Path) -> None:
    """Writers commit an incident and its audit entry together; every backup must hold both or neither."""
    s = store.store
    stop = threading.Event()
    written = [0]

    def writer(prefix: str) -> None:
        k = 0
        while not stop.is_set():
            k += 1
            with s.transaction() as con:
                con.execute(
                    "insert into incidents (id, title, occurred_on, originator, source, category, severity, tlp, "
                    "releasable_to) values (?, 'w', date '2026-01-01', 'UK', 'test', 'Jailbreak', 2, 'GREEN', "
                    "['UK'])",
                    [f"{prefix}-{k}"],
                )
                # a bulk insert in the same transaction makes DuckDB write blocks straight into the file
                con.execute(
                    "insert into eval_samples (run_id, sample_id, epoch, score, value) select 'bulk', 's' || range, 1, 0.5, 'C' from range(?)",
                    [130_000 if k % 8 == 0 else 10],
                )
                audit.record(con, "writer@test", "import", f"{prefix}-{k}")
            written[0] += 1

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("A", "B")]
    for t in threads:
        t.start()
    try:
        results = [backup.backup_store(s, tmp_path / "out", actor="test") for _ in range(3)]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert written[0] > 0
    for r in results:
        db = duckdb.connect(r.path, read_only=True)
        incidents, logged = db.execute(
            "select (select count(*) from incidents), (select count(*) from audit_log where action = 'import')"
        ).fetchone()
        db.close()
        assert incidents == logged == r.tables["incidents"]


def test_cli_backup_then_restore_into_a_fresh_path(source_db: Path, tmp_path: Path) -> None:
    src = source_db
    done = _cli("backup", "--db", str(src), "--out", str(tmp_path / "backups"), "--actor", "ops@uk.example")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    fresh = tmp_path / "new" / "restored.duckdb"
    done = _cli("restore", result["path"], "--db", str(fresh), "--actor", "ops@uk.example")
    assert done.returncode == 0, done.stderr
    source_counts, restored_counts = _counts(src), _counts(fresh)
    assert restored_counts["incidents"] == source_counts["incidents"] == 300
    assert {k: v for k, v in restored_counts.items() if k != "audit_log"} == {
        k: v for k, v in source_counts.items() if k != "audit_log"
    }
    s = open_store(fresh)  # the app can open it
    try:
        rows = (
            s.cursor()
            .execute("select email, action, object from audit_log where action = 'restore'")
            .fetchall()
        )
        assert rows == [("ops@uk.example", "restore", Path(result["path"]).name)]
    finally:
        close_all()


def test_restore_refuses_an_existing_store_without_force(made: backup.BackupResult, tmp_path: Path) -> None:
    other = _demo_file(tmp_path / "other.duckdb", 50)
    before = other.read_bytes()
    done = _cli("restore", made.path, "--db", str(other))
    assert done.returncode == 2
    assert "already exists" in done.stderr and "--force" in done.stderr and "Traceback" not in done.stderr
    assert other.read_bytes() == before
    done = _cli("restore", made.path, "--db", str(other), "--force")
    assert done.returncode == 0, done.stderr
    assert _counts(other)["incidents"] == 300
    kept = list(tmp_path.glob("other.duckdb.replaced-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == before


def test_restore_refuses_a_stray_wal_without_force(made: backup.BackupResult, tmp_path: Path) -> None:
    target = tmp_path / "t.duckdb"
    Path(str(target) + ".wal").write_bytes(b"old wal")
    with pytest.raises(backup.BackupError, match="already exists"):
        backup.restore(made.path, target, actor="t")
    assert not target.exists()


def test_restore_refuses_a_damaged_backup_and_a_foreign_file(
    made: backup.BackupResult, tmp_path: Path
) -> None:
    data = bytearray(Path(made.path).read_bytes())
    data[-5000] ^= 0xFF
    Path(made.path).write_bytes(bytes(data))
    with pytest.raises(backup.BackupError, match="SHA-256"):
        backup.restore(made.path, tmp_path / "x.duckdb", actor="t")
    foreign = tmp_path / "foreign.duckdb"
    db = duckdb.connect(str(foreign))
    db.execute("create table t as select 1 as a")
    db.close()
    with pytest.raises(backup.BackupError, match="not a threat-dashboard store"):
        backup.restore(foreign, tmp_path / "y.duckdb", actor="t")
    assert not (tmp_path / "x.duckdb").exists() and not (tmp_path / "y.duckdb").exists()


def test_restore_refuses_a_store_held_by_a_running_process(
    made: backup.BackupResult, holder: Path, tmp_path: Path
) -> None:
    with pytest.raises(backup.BackupError, match="in use by a running process"):
        backup.restore(made.path, holder, actor="t", force=True)


def test_cli_backup_says_so_when_the_holder_does_not_answer(holder: Path, tmp_path: Path) -> None:
    done = _cli("backup", "--db", str(holder), "--out", str(tmp_path / "b"), "--timeout", "1.5")
    assert done.returncode == 2
    assert "did not answer the backup request" in done.stderr and "Traceback" not in done.stderr
    assert not list(backup.requests_dir(holder).glob("*.request.json"))  # the request was withdrawn
    assert not (tmp_path / "b").exists() or not list((tmp_path / "b").iterdir())


def test_cli_backup_while_the_dashboard_runs_and_restore_it(tmp_path: Path) -> None:
    db = _demo_file(tmp_path / "live.duckdb", 1000)
    with AppServer(db, log=tmp_path / "server.log") as server:
        session = ProtocolSession(server.url)
        session.start()
        session.click("persona_analyst@au.example")  # the app has opened (and holds) the store
        assert session.metrics()["Incidents"]
        done = _cli("backup", "--db", str(db), "--out", str(tmp_path / "b"), "--actor", "ops@au.example")
        assert done.returncode == 0, done.stderr
        assert "asking the process that holds it" in done.stderr
        result = json.loads(done.stdout)
        # the dashboard keeps serving while and after it backs up
        session.select("flt_categories", [session.widget("multiselect", "flt_categories").options[0]])
        assert not session.problems()
        session.close()
    assert result["tables"]["incidents"] == 1000
    restored = tmp_path / "restored.duckdb"
    done = _cli("restore", result["path"], "--db", str(restored))
    assert done.returncode == 0, done.stderr
    assert _counts(restored)["incidents"] == 1000
    # the dashboard audited the backup in its own store, under the CLI's actor
    db_con = duckdb.connect(str(db), read_only=True)
    rows = db_con.execute("select email, object from audit_log where action = 'backup'").fetchall()
    db_con.close()
    assert rows == [("ops@au.example", Path(result["path"]).name)]
