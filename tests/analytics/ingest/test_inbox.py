"""The CLI and a running dashboard: a real second process holds the store, the CLI hands the file over to the
inbox, and the holder (standing in for the app, with a hardened store) imports it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.access.viewer import Viewer
from analytics.accounts import identity
from analytics.cli import main
from analytics.ingest import inbox
from analytics.store.database import Store, close_all, open_store
from tests.conftest import ADMIN, AU_ANALYST, ROOT, UK_ANALYST

OPS_UK = Viewer("ops@uk.example", "UK operations", "UK", "analyst")  # the person who hands files over here

GOOD = (
    "id,title,occurred_on,category,severity,tlp,releasable_to\n"
    "IN-1,Handed over,2025-05-01,Jailbreak,3,GREEN,UK;AU\n"
    "IN-2,Also handed over,02/05/2025,Model theft,4,AMBER,UK\n"
)

HOLDER = """
import json, sys
from analytics.ingest.inbox import process_inbox
from analytics.store.database import open_store
store = open_store(sys.argv[1], harden=True)   # as the app opens it
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "process":
        results = process_inbox(store)
        print(json.dumps([r.__dict__ for r in results]), flush=True)
    elif line.strip() == "quit":
        break
"""


def make_store(path: Path) -> None:
    s = Store(path)
    with s.transaction() as con:
        identity.enrol_demo_users(con)
    s.close()


@pytest.fixture
def held(tmp_path: Path):
    db = tmp_path / "data" / "threats.duckdb"
    make_store(db)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    yield db, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def ask(proc: subprocess.Popen, line: str) -> list[dict]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def test_cli_hands_over_while_the_store_is_held_and_the_holder_imports(held, tmp_path, capsys) -> None:
    db, proc = held
    src = tmp_path / "partner_weekly.csv"
    src.write_text(GOOD)
    code = main(["import", "csv", str(src), "--db", str(db), "--as", "UK", "--actor", "ops@uk.example"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "is in use by the running dashboard, so partner_weekly.csv was handed over to its inbox" in out
    assert "Traceback" not in out + err and "Conflicting lock" not in out + err
    waiting = inbox.pending(db)
    assert [(m.kind, m.original_name, m.actor, m.institute) for m in waiting] == [
        ("csv", "partner_weekly.csv", "ops@uk.example", "UK")
    ]
    # a bad file is refused at once, with its reasons, and never handed over
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,title,occurred_on,category,severity,tlp,releasable_to\nB-1,x,someday,Jailbreak,3,GREEN,UK\n"
    )
    assert main(["import", "csv", str(bad), "--db", str(db), "--as", "UK"]) == 2
    err = capsys.readouterr().err
    assert "row 1, column 'occurred_on': 'someday' is not a date" in err and "nothing was handed over" in err
    assert len(inbox.pending(db)) == 1
    # `inbox` while the app runs lists what waits
    assert main(["inbox", "--db", str(db)]) == 0
    assert "1 file waiting" in capsys.readouterr().out

    results = ask(proc, "process")
    assert [(r["file"], r["outcome"]) for r in results] == [("partner_weekly.csv", "imported")]
    assert "2 added" in results[0]["message"]
    assert ask(proc, "process") == []  # nothing twice
    proc.stdin.write("quit\n")
    proc.stdin.flush()
    proc.wait(30)

    store = open_store(db)
    con = store.cursor()
    assert con.execute("select title, originator, tlp from incidents order by title").fetchall() == [
        ("Also handed over", "UK", "AMBER"),
        ("Handed over", "UK", "GREEN"),
    ]
    assert con.execute("select imported_by, source from import_batches").fetchall() == [
        ("ops@uk.example", "partner_weekly.csv")
    ]
    log = con.execute(
        "select file_name, kind, actor, outcome, batch_id is not null from inbox_log"
    ).fetchall()
    assert log == [("partner_weekly.csv", "csv", "ops@uk.example", "imported", True)]
    done = db.parent / "inbox" / "done"
    [stamp] = [p.name for p in done.iterdir() if p.is_dir()]
    assert sorted(p.name for p in done.iterdir()) == [stamp, f"{stamp}.manifest.json", f"{stamp}.result.json"]
    assert (done / stamp / "partner_weekly.csv").read_text() == GOOD
    assert inbox.pending(db) == []
    close_all()


def test_a_hand_over_that_fails_in_the_app_is_reported_not_lost(tmp_path) -> None:
    db = tmp_path / "threats.duckdb"
    store = open_store(db)
    with store.transaction() as con:
        identity.enrol_demo_users(con)
    src = tmp_path / "again.csv"
    src.write_text(GOOD)
    inbox.hand_over(db, src, kind="csv", actor="ops@uk.example", institute="UK", tlp=None, releasable=None)
    inbox.hand_over(db, src, kind="csv", actor="ops@uk.example", institute="UK", tlp=None, releasable=None)
    results = inbox.process_inbox(store)
    assert [r.outcome for r in results] == ["imported", "refused"]
    assert "id 'IN-1'" in results[1].message and "is already in the store" in results[1].message
    assert store.cursor().execute("select count(*) from incidents").fetchall() == [(2,)]
    log = inbox.inbox_log(store.cursor(), OPS_UK)
    assert log["outcome"].tolist() == ["refused", "imported"]
    assert inbox.inbox_log(store.cursor(), UK_ANALYST).empty  # someone else's hand-overs, same institute
    assert inbox.inbox_log(store.cursor(), AU_ANALYST).empty  # another institute's
    admin = inbox.inbox_log(store.cursor(), ADMIN)  # that they exist, not what they were
    assert len(admin) == 2 and set(admin["message"]) == set(admin["file_name"]) == {inbox.WITHHELD}
    refused = list((db.parent / "inbox" / "refused").glob("*.result.json"))
    assert len(refused) == 1 and "already in the store" in json.loads(refused[0].read_text())["message"]
    close_all()


def test_stix_hand_over(tmp_path) -> None:
    from tests.analytics.ingest.test_stix_import import misp_like_bundle

    db = tmp_path / "threats.duckdb"
    store = open_store(db)
    src = tmp_path / "misp.json"
    src.write_bytes(misp_like_bundle()[0])
    inbox.hand_over(db, src, kind="stix", actor="ops@au.example", institute="AU", tlp=None, releasable=["AU"])
    [result] = inbox.process_inbox(store)
    assert result.outcome == "imported" and "2 added" in result.message
    close_all()


def test_a_claim_left_by_a_dead_process_is_taken_up_again(tmp_path, monkeypatch) -> None:
    db = tmp_path / "threats.duckdb"
    store = open_store(db)
    src = tmp_path / "late.csv"
    src.write_text(GOOD)
    manifest = inbox.hand_over(db, src, kind="csv", actor="ops", institute="UK", tlp=None, releasable=None)
    claimed = manifest.with_name(manifest.name + inbox.CLAIM_SUFFIX)
    manifest.replace(claimed)  # claimed, then the claimer died
    assert inbox.process_inbox(store) == []  # a fresh claim is someone else's work in progress
    old = time.time() - inbox.CLAIM_TIMEOUT - 5
    os.utime(claimed, (old, old))
    [result] = inbox.process_inbox(store)
    assert result.outcome == "imported"
    close_all()


def test_empty_or_missing_inbox_costs_nothing(tmp_path) -> None:
    store = open_store(tmp_path / "threats.duckdb")
    t0 = time.perf_counter()
    for _ in range(100):
        assert inbox.process_inbox(store) == []
    assert time.perf_counter() - t0 < 0.5
    (tmp_path / "inbox").mkdir()
    assert inbox.process_inbox(store) == []
    close_all()


def test_unknown_kind_is_not_handed_over(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown import kind 'exe'"):
        inbox.hand_over(
            tmp_path / "x.duckdb", tmp_path, kind="exe", actor="a", institute=None, tlp=None, releasable=None
        )
