"""Writes through the served store are all-or-nothing and lose no update: two client processes of one store
server edit the same assessment at the same moment; one saves, the other is told nothing was saved and to try
again, and nothing of the refused edit reaches the store (analytics/store/served.py, QuackTransaction)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import SHARED_DATA
from tests.deploy.conftest import SERVED_PYTHON, Served
from tests.servers import ROOT


def _rows(served: Served, sql: str, *params: Any) -> list[list[Any]]:
    """Rows of one read through the server, from a client process of its own."""
    script = (
        "import json, sys; from analytics.store.database import open_store; "
        "print(json.dumps(open_store().cursor().execute(sys.argv[1], json.loads(sys.argv[2])).fetchall(), "
        "default=str))"
    )
    out = subprocess.run(
        [str(SERVED_PYTHON), "-c", script, sql, json.dumps(list(params))],
        cwd=ROOT, env=served.env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def _probe(served: Served, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(SERVED_PYTHON), "-m", "tests.deploy.edit_probe", *args],
        cwd=ROOT, env=served.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _race(served: Served, first_args: tuple[str, ...], second_args: tuple[str, ...], second_says: str) -> str:
    """The first client reads and pauses before its first write; the second saves in between and says
    `second_says`; then the first goes on. Returns what the first said."""
    first = _probe(served, *first_args, "--pause")
    assert first.stdout is not None and first.stdin is not None
    try:
        assert first.stdout.readline().strip() == "paused"  # it has read, and not written yet
        second = _probe(served, *second_args)
        out, err = second.communicate(timeout=60)
        assert out.strip() == second_says, err
        first.stdin.write("\n")
        first.stdin.flush()
        return first.stdout.readline().strip()
    finally:
        first.stdin.close()
        first.wait(60)


def test_two_replicas_saving_one_assessment_at_once_lose_no_update(served: Served) -> None:
    made = _probe(served, "create", "Served race", "author@uk.example")
    out, err = made.communicate(timeout=60)
    assert made.returncode == 0, err
    aid = out.strip()
    said = _race(  # the first has read version 1 when the second saves version 2
        served,
        ("save", aid, "1", "first replica's text", "first@uk.example"),
        ("save", aid, "1", "second replica's text", "second@uk.example"),
        "saved 2",
    )
    assert said.startswith("refused: "), said
    assert "not been saved" in said or "nothing was saved" in said.lower()
    # The second replica's save stands whole; nothing of the first one's reached the store.
    assert _rows(served, "select current_version from assessments where id = ?", int(aid)) == [[2]]
    assert _rows(
        served,
        "select version, bluf from assessment_versions where assessment_id = ? order by version",
        int(aid),
    ) == [[1, ""], [2, "second replica's text"]]
    assert _rows(
        served, "select email, action from assessment_writes where assessment_id = ? order by seq", int(aid)
    ) == [["author@uk.example", "create"], ["second@uk.example", "save"]]
    assert _rows(
        served,
        "select count(*) from audit_log where email = ? and action = 'save assessment'",
        "first@uk.example",
    ) == [[0]]


def _version(served: Served) -> int:
    return int(_rows(served, "select max(version) from data_versions")[0][0])


_FAILING_WRITE = """
import duckdb
from analytics.store.database import open_store
store = open_store()
try:
    with store.transaction() as tx:
        view = tx.execute(
            "insert into saved_views (name, page, query, owner, institute) values (?, ?, ?, ?, ?) returning id",
            ["half-written view", "incidents", "{}", "atomic@uk.example", "UK"],
        ).fetchone()[0]
        tx.execute("insert into saved_views (id, name, page, query, owner, institute) values (?, ?, ?, ?, ?, ?)",
                   [view, "same id again", "incidents", "{}", "atomic@uk.example", "UK"])
except duckdb.ConstraintException as e:
    print("refused:", type(e).__name__)
"""


def test_a_served_transaction_that_fails_half_way_leaves_nothing_behind(served: Served) -> None:
    before = _version(served)
    out = subprocess.run(
        [str(SERVED_PYTHON), "-c", _FAILING_WRITE],
        cwd=ROOT, env=served.env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert out.strip() == "refused: ConstraintException"  # the server's error keeps its kind
    assert _rows(served, "select count(*) from saved_views where owner = ?", "atomic@uk.example") == [[0]]
    assert _version(served) == before  # no version row either: the bump is inside the same transaction


def test_an_import_through_the_server_is_one_transaction_read_back_by_another_client(served: Served) -> None:
    before = _version(served)
    result = served.run(
        "import", "atlas", str(SHARED_DATA / "atlas" / "ATLAS.yaml"), "--actor", "cli@uk.example"
    )
    assert "case studies: 57 added" in result.stdout, result.stderr
    assert "handed over" not in result.stdout  # written through the server, not left in an inbox
    assert _version(served) == before + 1  # the whole import: one server transaction, one version row
    assert _rows(served, "select count(*) from incidents where source = 'atlas'") == [[57]]
    batch = _rows(served, "select batch_id, kind from import_batches where kind = 'atlas'")
    assert len(batch) == 1
    again = served.run(
        "import", "atlas", str(SHARED_DATA / "atlas" / "ATLAS.yaml"), "--actor", "cli@uk.example"
    )
    assert "case studies: 0 added, 0 updated" in again.stdout, again.stderr  # reads saw the first import
    assert _rows(served, "select count(*) from incidents where source = 'atlas'") == [[57]]


def test_aiid_and_an_incident_spreadsheet_import_through_the_server(served: Served, tmp_path: Path) -> None:
    result = served.run("import", "aiid", str(SHARED_DATA / "aiid"), "--actor", "cli@uk.example")
    added = int(result.stdout.split(": ", 1)[1].split(" added")[0])
    assert added > 1000, result.stdout + result.stderr
    assert _rows(served, "select count(*) from incidents where source = 'aiid'") == [[added]]
    sheet = tmp_path / "partner.csv"
    sheet.write_bytes(
        b"id,title,occurred_on,category,severity,tlp,releasable_to\r\n"
        b'X-1,"Quoted ""title"", with comma",2025-03-05,Jailbreak,4,GREEN,"UK,AU"\r\n'
        b'X-2,Plain title \xc3\xa9,2025-03-06,Jailbreak,3,GREEN,"UK,AU"\r\n'
    )
    out = served.run("import", "csv", str(sheet), "--as", "UK", "--actor", "cli@uk.example").stdout
    assert "2 added" in out
    assert _rows(
        served, "select id, title, severity, releasable_to from incidents where id like 'UK-X-%' order by id"
    ) == [
        ["UK-X-1", 'Quoted "title", with comma', 4, ["AU", "UK"]],
        ["UK-X-2", "Plain title é", 3, ["AU", "UK"]],
    ]


_READ_OWN_WRITE = """
from analytics.store.database import open_store
store = open_store()
with store.transaction() as tx:
    tx.execute("insert into saved_views (name, page, query, owner, institute) values (?, ?, ?, ?, ?)",
               ["stamped", "incidents", "{}", "own@uk.example", "UK"])
    print(len(tx.execute("select created_at from saved_views where owner = ?", ["own@uk.example"]).fetchall()))
print("saved")
"""


def test_a_served_transaction_reads_its_own_write_and_commits_it(served: Served) -> None:
    """The read sees the transaction's own row (its created_at stamped by the server), and its guard, checked
    against the committed store, does not mistake the new timestamp at commit for another client's change."""
    out = subprocess.run(
        [str(SERVED_PYTHON), "-c", _READ_OWN_WRITE],
        cwd=ROOT, env=served.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.stdout.split() == ["1", "saved"], out.stderr[-500:]
    assert _rows(served, "select name from saved_views where owner = ?", "own@uk.example") == [["stamped"]]


def test_two_replicas_setting_one_threshold_at_once_lose_no_update(served: Served) -> None:
    """The Evaluations page's threshold: read the old value (for the audit entry), then replace it. A replica
    that read before another replica's save is refused with the page's message, instead of overwriting it."""
    bench = _rows(
        served, "select benchmark from eval_runs where tlp in ('CLEAR', 'GREEN') order by benchmark limit 1"
    )[0][0]
    said = _race(
        served,
        ("threshold", bench, "0.5", "first@uk.example"),
        ("threshold", bench, "0.7", "second@uk.example"),
        "saved",
    )
    assert said == (
        "refused: WriteConflict: Someone else changed the same records at the same moment; nothing was saved. "
        "Try again."
    )
    assert _rows(served, "select threshold, set_by from eval_thresholds where benchmark = ?", bench) == [
        [0.7, "second@uk.example"]
    ]
    assert _rows(
        served,
        "select count(*) from audit_log where email = ? and action = 'eval threshold set'",
        "first@uk.example",
    ) == [[0]]
