"""A process killed with SIGKILL in the middle of a large import leaves the store with all of it or none of it,
and the next start opens the store cleanly. The kills are real: a child process runs the import and is killed."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.accounts import identity
from analytics.ingest.tabular.commit import import_tabular
from analytics.store.database import Store
from tests.conftest import ROOT

ROWS = 100_000

CHILD = """
import sys, time
from analytics.ingest.tabular.commit import import_tabular
from analytics.store.database import Store

pause_at = sys.argv[3]

def progress(stage, fraction):
    print(stage, flush=True)
    if stage == pause_at:
        time.sleep(30)  # hold the transaction open until the parent kills us

store = Store(sys.argv[1])
import_tabular(store, sys.argv[2], actor="crash@uk.example", institute="UK", tlp="GREEN",
               releasable=["UK", "AU"], progress=progress)
print("exited", flush=True)
"""

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "large.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "title", "occurred_on", "category", "severity", "sectors", "techniques"])
        for k in range(ROWS):
            w.writerow(
                [
                    f"K-{k:06d}",
                    f"Bulk incident {k}",
                    f"2025-{1 + k % 12:02d}-{1 + k % 28:02d}",
                    "Prompt injection",
                    1 + k % 5,
                    "finance; energy",
                    "AML.T0051.000",
                ]
            )
    return path


def fresh_store(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)
    s = Store(path)
    with s.transaction() as con:
        identity.enrol_demo_users(con)
    s.close()


def run_and_kill(db: Path, csv_path: Path, *, pause_at: str, kill_after: str, delay: float) -> list[str]:
    """Start the import in a child, SIGKILL it `delay` seconds after it prints `kill_after`; return its output."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(csv_path), pause_at],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline().strip()
        if not line:
            break
        seen.append(line)
        if line == kill_after:
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(60)
    # 0 only when the import finished before the kill landed (possible for the later random moments)
    assert proc.returncode in (-signal.SIGKILL, 0), (seen, proc.stderr.read() if proc.stderr else "")
    rest = proc.stdout.read().split()
    return seen + rest + (["killed"] if proc.returncode == -signal.SIGKILL else [])


def observed(db: Path) -> tuple[int, int, int, int]:
    """Open the store as the next start would, and count what the import may have written."""
    s = Store(db)  # raises StoreCorrupt if the file were damaged
    try:
        row = (
            s.cursor()
            .execute(
                "select (select count(*) from incidents), (select count(*) from incident_techniques), "
                "(select count(*) from import_batches), (select coalesce(sum(added), 0) from import_batches)"
            )
            .fetchall()[0]
        )
        return tuple(int(v) for v in row)  # type: ignore[return-value]
    finally:
        s.close()


NONE = (0, 0, 0, 0)
ALL = (ROWS, ROWS, 1, ROWS)


def test_kill_inside_the_transaction_leaves_none_of_it(tmp_path, big_csv) -> None:
    db = tmp_path / "store.duckdb"
    fresh_store(db)
    # every row is inserted, the batch and audit rows written, but the commit has not happened
    out = run_and_kill(db, big_csv, pause_at="committing", kill_after="committing", delay=0.2)
    assert out[-2:] == ["committing", "killed"]
    assert observed(db) == NONE
    # and the next start can do the import in full
    s = Store(db)
    report = import_tabular(s, big_csv, actor="t", institute="UK", tlp="GREEN", releasable=["UK"])
    s.close()
    assert report.added == ROWS
    assert observed(db) == ALL


def test_kill_at_any_moment_of_the_write_leaves_all_or_none(tmp_path, big_csv) -> None:
    mid_write = 0
    for k, delay in enumerate([0.0, 0.1, 0.3, 0.8]):
        db = tmp_path / f"store-{k}.duckdb"
        fresh_store(db)
        out = run_and_kill(db, big_csv, pause_at="never", kill_after="writing", delay=delay)
        got = observed(db)
        assert got in (NONE, ALL), (delay, out, got)
        if "killed" in out and "committing" not in out:
            mid_write += 1
            assert got == NONE, (delay, out)  # killed before the commit began: none of it
    assert mid_write >= 2, "the kills should land while rows are being written"


def test_kill_after_commit_keeps_all_of_it(tmp_path, big_csv) -> None:
    db = tmp_path / "store.duckdb"
    fresh_store(db)
    out = run_and_kill(db, big_csv, pause_at="done", kill_after="done", delay=0.1)
    assert out[-2:] == ["done", "killed"]
    assert observed(db) == ALL
