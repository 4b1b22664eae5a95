"""One lock discipline: the store file is opened once per process, and stays single-writer after a backup.

DuckDB's lock is a POSIX fcntl lock, which Linux drops as soon as the holding process closes any descriptor of
the file. These tests run the dashboard's side in a real process, exactly as the app opens the store
(`open_store(..., harden=True)` then `serve_backup_requests`), have it serve a backup, and then check from yet
another process that the store is still refused to every other opener (read-write and read-only), and that
`restore --force` and `demo --force` refuse it with one line and change nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from analytics.demo.generator import build_demo
from analytics.store import backup
from analytics.store.database import Store, StoreLocked, close_all, open_store
from tests.conftest import ROOT

# The dashboard's side: opens the store as analytics.session does, serves backups, and on "backup" makes one
# itself (backup_store, as an in-process caller would); each command is answered with one line.
APP = """
import sys
from analytics.store import backup
from analytics.store.database import open_store
store = open_store(sys.argv[1], harden=True)
backup.serve_backup_requests(store, poll_s=0.1)
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "backup":
        print("made " + backup.backup_store(store, sys.argv[2], actor="ops@uk.example").path, flush=True)
"""

PROBE = """
import sys, duckdb
try:
    duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro").close()
    print("OPENED")
except duckdb.IOException as e:
    print("REFUSED " + str(e).splitlines()[0])
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _other_process_opens(path: Path, mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), mode], capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip() + done.stderr.strip()


def _assert_single_writer(path: Path) -> None:
    for mode in ("rw", "ro"):
        answer = _other_process_opens(path, mode)
        assert answer.startswith("REFUSED") and "Conflicting lock" in answer, (mode, answer)


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    path = tmp_path / "live.duckdb"
    s = Store(path)
    build_demo(s, incidents=200, seed=5)
    s.close()
    return path


@pytest.fixture
def app(store_file: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", APP, str(store_file), str(tmp_path / "in-app-backups")],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield proc
    proc.kill()
    proc.wait()


def test_store_stays_single_writer_after_the_app_serves_a_backup_request(
    app: subprocess.Popen[str], store_file: Path, tmp_path: Path
) -> None:
    _assert_single_writer(store_file)  # the control: held before any backup
    made = backup.request_backup(store_file, tmp_path / "b", actor="ops@uk.example", timeout_s=60)
    assert Path(made.path).is_file() and made.tables["incidents"] == 200
    _assert_single_writer(store_file)
    # and again after a second one (a lock dropped once stays dropped)
    backup.request_backup(store_file, tmp_path / "b", actor="ops@uk.example", timeout_s=60)
    _assert_single_writer(store_file)
    # the CLI keeps handing imports over instead of writing the store itself
    done = _cli("import", "csv", str(tmp_path / "missing.csv"), "--db", str(store_file), "--no-inbox")
    assert done.returncode == 2


def test_store_stays_single_writer_after_an_in_process_backup(
    app: subprocess.Popen[str], store_file: Path
) -> None:
    assert app.stdin is not None and app.stdout is not None
    app.stdin.write("backup\n")
    app.stdin.flush()
    assert app.stdout.readline().startswith("made ")
    _assert_single_writer(store_file)


def test_restore_and_demo_force_refuse_a_store_the_app_holds(
    app: subprocess.Popen[str], store_file: Path, tmp_path: Path
) -> None:
    made = backup.request_backup(store_file, tmp_path / "b", actor="ops@uk.example", timeout_s=60)
    before = (store_file.stat().st_ino, sorted(p.name for p in store_file.parent.iterdir()))
    for args in (
        ("restore", made.path, "--db", str(store_file), "--force"),
        ("demo", "--db", str(store_file), "--force", "--incidents", "0"),
    ):
        done = _cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "in use by a running process" in lines[0], (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert (store_file.stat().st_ino, sorted(p.name for p in store_file.parent.iterdir())) == before
    _assert_single_writer(store_file)


def test_restore_and_demo_force_refuse_a_store_held_read_only(store_file: Path, tmp_path: Path) -> None:
    made = backup.backup_offline(store_file, tmp_path / "b", actor="t")
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; db=duckdb.connect(sys.argv[1], read_only=True); print('ready', flush=True);"
            " time.sleep(120)",
            str(store_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        for args in (
            ("restore", made.path, "--db", str(store_file), "--force"),
            ("demo", "--db", str(store_file), "--force", "--incidents", "0"),
        ):
            done = _cli(*args)
            assert done.returncode == 2 and "in use by a running process" in done.stderr, done.stderr
        assert not list(tmp_path.glob("live.duckdb.replaced-*"))
    finally:
        reader.kill()
        reader.wait()


def test_demo_force_keeps_a_replaced_copy(store_file: Path) -> None:
    size = store_file.stat().st_size
    done = _cli("demo", "--db", str(store_file), "--force", "--incidents", "0")
    assert done.returncode == 0, done.stderr
    kept = list(store_file.parent.glob("live.duckdb.replaced-*"))
    assert len(kept) == 1 and kept[0].stat().st_size == size
    db = duckdb.connect(str(kept[0]), read_only=True)
    assert db.execute("select count(*) from incidents").fetchone() == (200,)
    db.close()


def test_nothing_in_this_process_opens_the_path_of_the_store_it_holds(
    store_file: Path, tmp_path: Path
) -> None:
    """The in-process audit: every reader of a store path refuses the file this process holds as its store,
    under any name, and the backup itself reads only through the held descriptor."""
    from analytics.store.database import exclusive, held_here

    store = open_store(store_file)
    try:
        assert held_here(store_file)
        other_name = tmp_path / "alias.duckdb"
        os.symlink(store_file, other_name)
        for reader in (backup.inspect_store_file, backup._sha256):
            with pytest.raises(backup.BackupError, match="this process has open"):
                reader(other_name)
        with pytest.raises(StoreLocked, match="already open in this process"):
            Store(other_name)  # a second DuckDB instance would retake the lock, then drop it on closing
        with pytest.raises(backup.BackupError, match="this process has open"):
            backup.backup_offline(store_file, tmp_path / "b", actor="t")
        with pytest.raises(StoreLocked, match="this process has open"), exclusive(store_file, purpose="x"):
            pass
        made = backup.backup_store(store, tmp_path / "b", actor="t")
        assert backup.inspect_store_file(Path(made.path))[1]["incidents"] == 200
        with pytest.raises(backup.BackupError, match="this process has open"):
            backup.restore(made.path, store_file, actor="t", force=True)
        _assert_single_writer(store_file)
    finally:
        close_all()
    assert not held_here(store_file)
    time.sleep(0)  # the descriptor is closed with the store: another process may now open it
    assert _other_process_opens(store_file, "rw") == "OPENED"
