"""Inbox outcomes go only to the person who handed the file over, and a hand-over carries every CLI option.

An outcome quotes the file (its name, the refused cells), so the AU analyst who happens to load the next page
must not get a toast about the UK lead's file, and the inbox log and waiting list show each person their own
hand-overs (an administrator sees that others exist, never their names or messages). The hand-over must import
exactly as the CLI would have: `--only-valid` and every other import option reach the dashboard's importer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics.accounts import identity
from analytics.cli import build_parser, main
from analytics.ingest import inbox
from analytics.store.database import Store, close_all, open_store
from tests.conftest import ADMIN, AU_ANALYST, AU_LEAD, ROOT, UK_ANALYST, UK_LEAD

CANARY = "CANARYinboxUKlead"
REFUSED_CSV = (
    "id,title,occurred_on,category,severity,tlp,releasable_to\n"
    f"IN-1,Secret thing,{CANARY},Jailbreak,3,AMBER,UK\n"
)
HALF_GOOD = (
    "id,title,occurred_on,category,severity,tlp,releasable_to\n"
    "HG-1,Good row,2025-05-01,Jailbreak,3,GREEN,UK;AU\n"
    "HG-2,Bad row,someday,Jailbreak,3,GREEN,UK;AU\n"
)


def _make_store(path: Path) -> None:
    s = Store(path)
    with s.transaction() as con:
        identity.enrol_demo_users(con)
    s.close()


def _hand_over_refused(db: Path, tmp_path: Path) -> None:
    src = tmp_path / f"{CANARY}-weekly.csv"
    src.write_text(REFUSED_CSV)
    inbox.hand_over(db, src, kind="csv", actor=UK_LEAD.email, institute="UK", tlp=None, releasable=None)


def _text(value: Any) -> str:
    return json.dumps(value, default=str)


def test_outcomes_waiting_list_and_log_belong_to_the_person_who_handed_over(tmp_path: Path) -> None:
    db = tmp_path / "threats.duckdb"
    _make_store(db)
    _hand_over_refused(db, tmp_path)
    # while it waits: the person sees their file; an admin sees that something waits, not its name
    assert [m.original_name for m in inbox.pending_for(db, UK_LEAD)] == [f"{CANARY}-weekly.csv"]
    for other in (UK_ANALYST, AU_ANALYST, AU_LEAD):
        assert inbox.pending_for(db, other) == []
    [waiting] = inbox.pending_for(db, ADMIN)
    assert CANARY not in _text(waiting.__dict__) and waiting.actor == UK_LEAD.email

    store = open_store(db)
    try:
        [result] = inbox.process_inbox(store)
        assert result.outcome == "refused" and CANARY in result.message  # the outcome quotes the file
        for other in (AU_ANALYST, UK_ANALYST, AU_LEAD, ADMIN):
            assert inbox.outcomes_for(db, other) == []
        [mine] = inbox.outcomes_for(db, UK_LEAD)
        assert mine.file == f"{CANARY}-weekly.csv" and mine.outcome == "refused"
        assert inbox.outcomes_for(db, UK_LEAD) == []  # given once

        con = store.cursor()
        assert CANARY in _text(inbox.inbox_log(con, UK_LEAD).to_dict("records"))
        for other in (UK_ANALYST, AU_ANALYST, AU_LEAD):
            assert inbox.inbox_log(con, other).empty
        admin_view = inbox.inbox_log(con, ADMIN).to_dict("records")
        assert len(admin_view) == 1 and admin_view[0]["outcome"] == "refused"
        assert CANARY not in _text(admin_view)
    finally:
        close_all()


@pytest.fixture
def app_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, navigation_mode: None) -> Iterator[Path]:
    db = tmp_path / "threats.duckdb"
    _make_store(db)
    monkeypatch.setenv("THREAT_DB", str(db))
    yield db
    close_all()


def _toasts_for(email: str) -> list[str]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": email}
    at.run()
    assert not at.exception, at.exception
    return [str(t.value) for t in at.toast]


def test_the_next_page_load_by_someone_else_shows_no_outcome(app_over: Path, tmp_path: Path) -> None:
    _hand_over_refused(app_over, tmp_path)
    assert _toasts_for(AU_ANALYST.email) == []  # processes the hand-over, shows the AU analyst nothing
    assert inbox.pending(app_over) == []
    assert _toasts_for(UK_ANALYST.email) == []  # same institute, still not theirs
    toasts = _toasts_for(UK_LEAD.email)
    assert len(toasts) == 1 and "weekly" in toasts[0] and "Refused" in toasts[0]
    assert _toasts_for(UK_LEAD.email) == []


# -- every CLI option reaches the dashboard ------------------------------------------------------------------

# The import arguments that are not importer options: where the file is and what it is, the manifest's own
# fields (institute, markings, actor), and how to hand it over.
NOT_OPTIONS = {
    "kind", "path", "db", "create", "institute", "tlp", "releasable", "actor", "inbox", "no_inbox", "help"
}  # fmt: skip
CLI_TO_OPTION = {
    "records": "target",
    "source": "source_key",
    "only_valid": "only_valid",
    "map": "mapping",
    "mapping": "mapping",
    "set": "constants",
    "recipients": "recipients",
    "update": "update",
}


def test_every_import_option_of_the_cli_is_carried_by_the_hand_over(tmp_path: Path) -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    parser = sub.choices["import"]  # type: ignore[index]
    dests = {a.dest for a in parser._actions} - NOT_OPTIONS
    assert dests == set(CLI_TO_OPTION), "a new import option must be carried to the dashboard (inbox)"
    assert set(CLI_TO_OPTION.values()) == set(inbox.TABULAR_OPTIONS)

    db = tmp_path / "threats.duckdb"
    _make_store(db)
    src = tmp_path / "half.csv"
    src.write_text(HALF_GOOD)
    args = ["import", "csv", str(src), "--db", str(db), "--as", "UK", "--actor", UK_LEAD.email, "--inbox"]
    args += ["--records", "incidents", "--source", "partner-feed", "--only-valid"]
    assert main(args) == 0
    [manifest] = inbox.pending(db)
    assert manifest.options == {"target": "incidents", "source_key": "partner-feed", "only_valid": True}


HOLDER = """
import json, sys
from analytics.ingest.inbox import process_inbox
from analytics.store.database import open_store
store = open_store(sys.argv[1], harden=True)   # as the app opens it
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps([r.__dict__ for r in process_inbox(store)]), flush=True)
"""


def test_only_valid_is_honoured_by_the_running_dashboard(tmp_path: Path) -> None:
    db = tmp_path / "threats.duckdb"
    _make_store(db)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "ready"
        src = tmp_path / "half.csv"
        src.write_text(HALF_GOOD)
        code = main(
            [
                "import",
                "csv",
                str(src),
                "--db",
                str(db),
                "--as",
                "UK",
                "--actor",
                UK_LEAD.email,
                "--only-valid",
            ]
        )
        assert code == 0  # handed over (the store is held)
        proc.stdin.write("process\n")
        proc.stdin.flush()
        [result] = json.loads(proc.stdout.readline())
        assert result["outcome"] == "imported", result["message"]
        assert "1 added" in result["message"]
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    store = open_store(db)
    try:
        assert store.cursor().execute("select title from incidents").fetchall() == [("Good row",)]
    finally:
        close_all()
