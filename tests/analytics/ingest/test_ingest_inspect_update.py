"""Inspect imports through the CLI: the audit entry, a re-import with another marking (reported, applied only with
--update, audited) and a refusal that names the field of the log that is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from inspect_ai.log import read_eval_log

from analytics.cli import main
from analytics.store.database import close_all, open_store
from tests.analytics.ingest.test_ingest_inspect import logs  # noqa: F401  (the module's real logs)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    close_all()
    out, err = capsys.readouterr()
    return code, out, err


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    store = open_store(db)
    try:
        return store.cursor().execute(sql).fetchall()
    finally:
        close_all()


def test_inspect_import_is_audited_and_a_new_marking_needs_update(tmp_path, capsys, logs) -> None:  # noqa: F811
    db = tmp_path / "s.duckdb"
    base = ["import", "inspect", str(logs["json"]), "--db", str(db), "--as", "UK", "--releasable", "UK,AU"]
    code, _, err = cli(capsys, *base, "--create", "--tlp", "AMBER")
    assert code == 0, err
    [(detail,)] = query(db, "select detail from audit_log where action = 'import inspect'")
    assert json.loads(detail)["added"] == 1 and json.loads(detail)["tlp"] == "AMBER"
    run_id = read_eval_log(str(logs["json"]), header_only=True).eval.eval_id

    code, out, _ = cli(capsys, *base, "--tlp", "GREEN")
    assert code == 0
    assert "0 added, 0 updated, 1 unchanged" in out
    assert "marked TLP:AMBER releasable to AU,UK in the store and TLP:GREEN releasable to AU,UK" in out
    assert "--update" in out
    assert query(db, f"select tlp from eval_runs where run_id = '{run_id}'") == [("AMBER",)]

    code, out, err = cli(capsys, *base, "--tlp", "GREEN", "--update")
    assert code == 0, err
    assert "0 added, 1 updated, 0 unchanged" in out
    assert query(db, f"select tlp from eval_runs where run_id = '{run_id}'") == [("GREEN",)]
    assert query(db, f"select count(*) from eval_samples where run_id = '{run_id}'") != [(0,)]
    assert query(db, f"select previous->>'tlp' from record_history where record_id = '{run_id}'") == [
        ("AMBER",)
    ]
    entries = query(db, "select detail from audit_log where action = 'import inspect' order by id")
    assert [json.loads(d)["updated"] for (d,) in entries] == [0, 0, 1]


def test_a_log_with_a_bad_field_is_refused_naming_the_field(tmp_path, capsys, logs) -> None:  # noqa: F811
    doc = json.loads(logs["json"].read_text())
    del doc["eval"]["model"]
    bad = tmp_path / "broken-run.json"
    bad.write_text(json.dumps(doc))
    db = tmp_path / "s.duckdb"
    code, _, err = cli(capsys, "import", "inspect", str(bad), "--db", str(db), "--create", "--as", "UK")
    assert code == 2
    assert "broken-run.json: not a readable Inspect log (field eval.model: Field required)" in err
    assert "validation error for EvalLog" not in err
