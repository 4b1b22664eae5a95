"""`python -m analytics import ...` end to end, through analytics.cli.main with real files in tmp_path and a real
store: lossless CSV, --map/--mapping/--set, nested JSON, folders, provenance (--source), messages, --db/--create,
--update and the audit entries of every importer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from analytics.cli import main
from analytics.store.database import close_all, open_store
from tests.conftest import SHARED_DATA

QUOTED = 'The model was told ""reveal the system prompt"" and did'
QUOTED_VALUE = 'The model was told "reveal the system prompt" and did'


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "threats.duckdb"
    open_store(path)
    close_all()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    close_all()
    out, err = capsys.readouterr()
    return code, out, err


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    store = open_store(db)
    try:
        return store.cursor().execute(sql, params or []).fetchall()
    finally:
        close_all()


def counts(db: Path) -> tuple[int, ...]:
    return rows(
        db,
        "select (select count(*) from incidents), (select count(*) from eval_runs), "
        "(select count(*) from import_batches), (select count(*) from audit_log)",
    )[0]


# -- RFC 4180 CSV, byte-exact --------------------------------------------------------------------------------


def test_quoted_csv_round_trips_byte_exact_through_the_cli(db, tmp_path, capsys) -> None:
    body = "".join(
        f'X-{k},"{QUOTED}",2025-03-05,Jailbreak,4,GREEN,"UK,AU"\r\n'
        if k == 198
        else f'X-{k},Plain title {k},2025-03-05,Jailbreak,4,GREEN,"UK,AU"\r\n'
        for k in range(1, 202)
    )
    src = tmp_path / "partner.csv"
    src.write_bytes(("id,title,occurred_on,category,severity,tlp,releasable_to\r\n" + body).encode())
    code, out, err = run(capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK")
    assert code == 0, err
    assert "201 added" in out
    [(title,)] = rows(db, "select title from incidents where id = 'UK-X-198'")
    assert title.encode() == QUOTED_VALUE.encode()


# -- --map, --set, --mapping -----------------------------------------------------------------------------------


def test_map_and_set_from_the_command_line(db, tmp_path, capsys) -> None:
    src = tmp_path / "feed.csv"
    src.write_text("Ref;Headline;When;Comment\nA1;First thing;2025-01-02;x\nA2;Second thing;2025-01-03;y\n")
    code, out, err = run(
        capsys,
        "import", "csv", str(src), "--db", str(db), "--as", "AU", "--tlp", "GREEN", "--releasable", "UK,AU",
        "--map", "Ref=id", "--map", "Headline=title", "--map", "When=occurred_on",
        "--set", "category=Jailbreak", "--set", "severity=3",
    )  # fmt: skip
    assert code == 0, err
    assert rows(
        db, "select id, title, occurred_on::varchar, category, severity from incidents order by id"
    ) == [
        ("AU-A1", "First thing", "2025-01-02", "Jailbreak", 3),
        ("AU-A2", "Second thing", "2025-01-03", "Jailbreak", 3),
    ]
    assert "unmapped columns: 'Comment'" in out


def test_mapping_file_as_the_data_page_saves_it(db, tmp_path, capsys) -> None:
    from analytics.ingest.tabular.mapping import mapping_file_bytes

    spec = tmp_path / "mapping.json"
    spec.write_bytes(
        mapping_file_bytes(
            "incidents",
            "weekly",
            {"Ref": "id", "Headline": "title", "When": "occurred_on"},
            {"category": "Model theft", "severity": "2"},
        )
    )
    src = tmp_path / "feed.csv"
    src.write_text("Ref,Headline,When\nB1,Stolen weights,2025-02-01\n")
    code, _, err = run(
        capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK", "--tlp", "AMBER",
        "--releasable", "UK,AU", "--mapping", str(spec),
    )  # fmt: skip
    assert code == 0, err
    assert rows(db, "select id, category, severity, tlp from incidents") == [
        ("UK-B1", "Model theft", 2, "AMBER")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "Ref=nosuchfield"], "--map Ref=nosuchfield: unknown field 'nosuchfield'"),
        (["--map", "Ref"], "--map Ref: expected SOURCE=FIELD"),
        (["--set", "severity=9"], "--set severity=9: '9' is not a severity"),
        (["--set", "colour=red"], "--set colour=red: unknown field 'colour'"),
        (["--map", "Headline=title", "--set", "title=x"], "'title' is given twice"),
    ],
)
def test_bad_mapping_flags_are_one_line_errors(db, tmp_path, capsys, args: list[str], message: str) -> None:
    src = tmp_path / "feed.csv"
    src.write_text("Ref,Headline,When\nB1,Stolen weights,2025-02-01\n")
    before = counts(db)
    code, _, err = run(
        capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK", "--tlp", "AMBER",
        "--releasable", "UK,AU", "--set", "category=Jailbreak", *args,
    )  # fmt: skip
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    assert counts(db) == before


# -- nested JSON, objects per file, folders, JSONL ------------------------------------------------------------


def _report(k: int, domain: str) -> dict[str, Any]:
    return {
        "metadata": {"report_id": f"R-{k}"},
        "problemtype": {"description": {"value": f"Problem {k}"}},
        "affects": {"developer": ["Lab"], "artifacts": [{"type": "System", "name": f"Model-{k}"}]},
        "impact": {"avid": {"risk_domain": [domain]}},
        "metrics": [{"detection": f"det-{k}"}],
        "reported_date": "2023-01-05",
    }


NESTED_MAP = [
    "--map", "metadata.report_id=id",
    "--map", "problemtype.description.value=title",
    "--map", "reported_date=occurred_on",
    "--map", "affects.artifacts[0].name=affected_system",
    "--map", "affects.developer=developer",
    "--map", "impact.avid.risk_domain=tags",
    "--map", "metrics[0].detection=summary",
]  # fmt: skip


def test_folder_of_json_objects_with_dotted_paths(db, tmp_path, capsys) -> None:
    folder = tmp_path / "reports"
    (folder / "2023").mkdir(parents=True)
    for k in (1, 2, 3):
        (folder / "2023" / f"R-{k}.json").write_text(
            json.dumps(_report(k, "Security" if k < 3 else "Ethics"))
        )
    code, out, err = run(
        capsys, "import", "json", str(folder), "--db", str(db), "--as", "UK", "--tlp", "CLEAR",
        "--releasable", "UK,AU", "--set", "category=Jailbreak", "--set", "severity=2", *NESTED_MAP,
    )  # fmt: skip
    assert code == 0, err
    assert "3 added" in out
    got = rows(db, "select id, title, affected_system, developer, tags, summary from incidents order by id")
    assert got[0] == ("UK-R-1", "Problem 1", "Model-1", "Lab", ["Security"], "det-1")
    assert got[2][4] == ["Ethics"]


def test_jsonl_and_a_list_and_an_object_give_the_same_records(db, tmp_path, capsys) -> None:
    reports = [_report(k, "Security") for k in (1, 2)]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in reports) + "\n")
    (tmp_path / "b.json").write_text(json.dumps(reports))
    seen = []
    for name in ("a.jsonl", "b.json"):
        path = tmp_path / f"{name}.duckdb"
        code, _, err = run(
            capsys, "import", "json", str(tmp_path / name), "--db", str(path), "--create", "--as", "UK",
            "--tlp", "CLEAR", "--releasable", "UK,AU", "--set", "category=Jailbreak", "--set", "severity=2",
            *NESTED_MAP,
        )  # fmt: skip
        assert code == 0, err
        seen.append(rows(path, "select id, title, tags from incidents order by id"))
    assert (
        seen[0] == seen[1] == [("UK-R-1", "Problem 1", ["Security"]), ("UK-R-2", "Problem 2", ["Security"])]
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: (p / "empty").mkdir(), "no .json or .jsonl files"),
        (
            lambda p: (p / "x.json").write_text("42"),
            "expected a JSON list of records, an object or JSON lines",
        ),
        (lambda p: (p / "x.json").write_text('{"a": [1'), "not valid JSON"),
        (lambda p: (p / "x.json").write_text('[{"a": 1}, 3]'), "record 2 is not an object"),
    ],
)
def test_unreadable_json_is_one_line_exit_2(db, tmp_path, capsys, make: Any, message: str) -> None:
    make(tmp_path)
    target = tmp_path / ("empty" if (tmp_path / "empty").exists() else "x.json")
    code, _, err = run(capsys, "import", "json", str(target), "--db", str(db), "--as", "UK", "--tlp", "GREEN")
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_a_path_no_record_has_is_named(db, tmp_path, capsys) -> None:
    (tmp_path / "x.json").write_text(json.dumps([_report(1, "Security")]))
    code, _, err = run(
        capsys, "import", "json", str(tmp_path / "x.json"), "--db", str(db), "--as", "UK", "--tlp", "GREEN",
        "--releasable", "UK", "--set", "category=Jailbreak", "--set", "severity=2", *NESTED_MAP,
        "--map", "impact.avid.nothing=countries",
    )  # fmt: skip
    assert code == 2
    assert "'impact.avid.nothing' is in no record of the file" in err


# -- provenance ---------------------------------------------------------------------------------------------------


def test_source_names_the_stored_source(db, tmp_path, capsys) -> None:
    src = tmp_path / "x.csv"
    src.write_text("id,title,occurred_on,category,severity\nA,One,2025-01-01,Jailbreak,3\n")
    code, _, err = run(
        capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK", "--tlp", "GREEN",
        "--releasable", "UK,AU", "--source", "cert-au-weekly",
    )  # fmt: skip
    assert code == 0, err
    assert rows(db, "select source, originator from incidents") == [("cert-au-weekly", "UK")]


def test_a_public_source_key_makes_public_records_whoever_imports(db, tmp_path, capsys) -> None:
    src = tmp_path / "x.csv"
    src.write_text("id,title,occurred_on,category,severity\nAVID-2023-R0001,One,2025-01-01,Jailbreak,3\n")
    code, _, err = run(capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK", "--source", "avid")
    assert code == 0, err
    assert rows(db, "select id, source, originator, tlp, releasable_to from incidents") == [
        ("AVID-2023-R0001", "avid", "PUBLIC", "CLEAR", ["AU", "UK"])
    ]
    code, _, err = run(
        capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK", "--source", "avid", "--tlp", "RED"
    )
    assert code == 2 and "never TLP:RED" in err


# -- messages -----------------------------------------------------------------------------------------------------


def test_identical_problems_are_grouped_with_their_first_rows(db, tmp_path, capsys) -> None:
    lines = ["id,title,occurred_on,category,severity,tlp,releasable_to"]
    lines += [f"X-{k},T {k},2025-01-01,Jailbreak,{9 if k % 2 else 3},GREEN,UK" for k in range(1, 401)]
    src = tmp_path / "x.csv"
    src.write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK")
    assert code == 2
    assert "200 problems in 200 of 400 rows (row 1 is the line after the header)" in err
    assert "rows 1, 3, 5 and 197 more, column 'severity': '9' is not a severity (1 to 5)" in err
    assert err.count("is not a severity") == 1


def test_the_missing_flag_is_named(db, tmp_path, capsys) -> None:
    src = tmp_path / "x.csv"
    src.write_text("id,title,occurred_on,severity\nA,One,2025-01-01,3\n")
    code, _, err = run(capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK")
    assert code == 2
    assert "no TLP marking: give --tlp or map a column" in err
    assert "no releasability: give --releasable or map a column" in err
    assert (
        "no column is mapped to the required field 'category': give --map COLUMN=category or --set category=VALUE"
        in err
    )


def test_long_nested_values_are_truncated_in_messages(db, tmp_path, capsys) -> None:
    rec = _report(1, "Security")
    rec["problemtype"]["description"]["value"] = {"deep": ["x" * 500]}
    (tmp_path / "x.json").write_text(json.dumps([rec]))
    code, _, err = run(
        capsys, "import", "json", str(tmp_path / "x.json"), "--db", str(db), "--as", "UK", "--tlp", "GREEN",
        "--releasable", "UK", "--set", "category=Jailbreak", "--set", "severity=2", *NESTED_MAP,
    )  # fmt: skip
    assert code == 2
    assert "expected text, found a list or object" in err
    assert "x" * 100 not in err


# -- --db and --create ----------------------------------------------------------------------------------------


def test_db_that_does_not_exist_is_refused_unless_create(tmp_path, capsys) -> None:
    src = tmp_path / "x.csv"
    src.write_text("id,title,occurred_on,category,severity\nA,One,2025-01-01,Jailbreak,3\n")
    missing = tmp_path / "nowhere.duckdb"
    code, _, err = run(
        capsys, "import", "csv", str(src), "--db", str(missing), "--as", "UK", "--tlp", "GREEN"
    )
    assert code == 2
    assert "does not exist" in err and "--create" in err
    assert not missing.exists() and not Path(f"{missing}.wal").exists()
    code, _, err = run(
        capsys, "import", "csv", str(src), "--db", str(missing), "--create", "--as", "UK", "--tlp", "GREEN",
        "--releasable", "UK",
    )  # fmt: skip
    assert code == 0, err
    assert rows(missing, "select count(*) from incidents") == [(1,)]


@pytest.mark.parametrize(
    "command",
    [
        ("history",),
        ("undo", "csv-123"),
        ("export-stix", "--for", "AU", "--out", "OUT"),
        ("export-ceiling", "--for", "AU", "--tlp", "GREEN"),
    ],
)
def test_other_commands_refuse_a_store_that_does_not_exist(tmp_path, capsys, command) -> None:
    """A mistyped --db never leaves an empty store behind, nor answers from one."""
    missing = tmp_path / "nowhere.duckdb"
    argv = [str(tmp_path / "out.json") if a == "OUT" else a for a in command]
    code, _, err = run(capsys, *argv, "--db", str(missing))
    assert code == 2
    assert f"store {missing} does not exist" in err
    assert not missing.exists() and not Path(f"{missing}.wal").exists()


# -- --update -----------------------------------------------------------------------------------------------------


def test_update_upserts_by_id_with_counts_and_history(db, tmp_path, capsys) -> None:
    head = "id,title,occurred_on,category,severity,tlp,releasable_to\n"
    src = tmp_path / "feed.csv"
    src.write_text(head + "A,One,2025-01-01,Jailbreak,3,GREEN,UK\nB,Two,2025-01-02,Jailbreak,3,GREEN,UK\n")
    assert run(capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK")[0] == 0
    src.write_text(
        head + "A,One,2025-01-01,Jailbreak,3,GREEN,UK\nB,Two (revised),2025-01-02,Jailbreak,4,GREEN,UK\n"
        "C,Three,2025-01-03,Jailbreak,2,GREEN,UK\n"
    )
    code, _, err = run(capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK")
    assert code == 2 and "already in the store" in err and "--update" in err
    code, out, err = run(capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK", "--update")
    assert code == 0, err
    assert "1 added, 1 updated, 1 unchanged" in out
    assert rows(db, "select id, title, severity from incidents order by id") == [
        ("UK-A", "One", 3),
        ("UK-B", "Two (revised)", 4),
        ("UK-C", "Three", 2),
    ]
    assert rows(db, "select record_id, previous->'row'->>'title' from record_history") == [("UK-B", "Two")]
    [(batch,)] = rows(db, 'select batch_id from import_batches order by "at" desc limit 1')
    code, _, err = run(capsys, "undo", batch, "--db", str(db))
    assert code == 0, err
    assert rows(db, "select id, title from incidents order by id") == [("UK-A", "One"), ("UK-B", "Two")]


def test_update_with_another_marking_says_so_and_applies_it_audited(db, tmp_path, capsys) -> None:
    src = tmp_path / "feed.csv"
    src.write_text("id,title,occurred_on,category,severity\nA,One,2025-01-01,Jailbreak,3\n")
    base = ["import", "csv", str(src), "--db", str(db), "--as", "UK", "--releasable", "UK,AU"]
    assert run(capsys, *base, "--tlp", "AMBER")[0] == 0
    code, _, err = run(capsys, *base, "--tlp", "GREEN")
    assert code == 2 and "marked TLP:AMBER in the store" in err and "--update" in err
    code, out, err = run(capsys, *base, "--tlp", "GREEN", "--update")
    assert code == 0, err
    assert "0 added, 1 updated, 0 unchanged" in out
    assert rows(db, "select tlp from incidents") == [("GREEN",)]
    detail = rows(db, "select detail from audit_log where action = 'import' order by id desc limit 1")[0][0]
    assert json.loads(detail)["updated"] == 1


# -- every importer writes its audit entry ---------------------------------------------------------------------

EPOCH = SHARED_DATA / "epoch-benchmarks"


def test_epoch_import_is_audited_and_update_applies_a_marking(db, tmp_path, capsys) -> None:
    src = tmp_path / "cybench_external.csv"
    shutil.copy(EPOCH / "cybench_external.csv", src)
    code, _, err = run(capsys, "import", "epoch", str(src), "--db", str(db), "--tlp", "GREEN")
    assert code == 0, err
    entries = rows(db, "select action, detail from audit_log where action = 'import epoch'")
    assert len(entries) == 1 and json.loads(entries[0][1])["added"] == 22
    code, out, err = run(capsys, "import", "epoch", str(src), "--db", str(db))
    assert code == 0
    assert "22 unchanged" in out and "marked TLP:GREEN releasable to AU,UK in the store" in out
    assert "give --update to apply the new one" in out
    assert rows(db, "select distinct tlp from eval_runs") == [("GREEN",)]
    code, out, err = run(capsys, "import", "epoch", str(src), "--db", str(db), "--update")
    assert code == 0, err
    assert "22 updated" in out
    assert rows(db, "select distinct tlp from eval_runs") == [("CLEAR",)]
    assert len(rows(db, "select * from audit_log where action = 'import epoch'")) == 3


def test_an_option_an_importer_does_not_take_is_refused(db, capsys) -> None:
    code, _, err = run(capsys, "import", "epoch", str(EPOCH), "--db", str(db), "--map", "a=b")
    assert code == 2
    assert "import epoch does not take --map" in err


def test_import_help_documents_every_flag(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    out = capsys.readouterr().out
    for flag in ("--map", "--mapping", "--set", "--source", "--recipients", "--create", "--update"):
        assert flag in out


def test_a_clash_of_one_id_is_one_line_however_many_rows(db, tmp_path, capsys) -> None:
    src = tmp_path / "x.csv"
    src.write_text("title,occurred_on\n" + "".join(f"T {k},2025-01-01\n" for k in range(300)))
    code, _, err = run(
        capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK", "--tlp", "GREEN", "--releasable", "UK",
        "--set", "id=FEED-1", "--set", "category=Jailbreak", "--set", "severity=2",
    )  # fmt: skip
    assert code == 2
    assert "299 problems in 299 of 300 rows" in err
    assert (
        "rows 2, 3, 4 and 296 more, column '--set id': id 'FEED-1' is already used by row 1 of this file"
        in err
    )
    assert err.count("already used") == 1


def test_recipients_for_red_records(db, tmp_path, capsys) -> None:
    src = tmp_path / "x.csv"
    src.write_text("title,occurred_on,category,severity\nOne,2025-01-01,Jailbreak,3\n")
    base = ["import", "csv", str(src), "--db", str(db), "--as", "UK", "--tlp", "RED", "--releasable", "UK"]
    code, _, err = run(capsys, *base)
    assert code == 2 and "TLP:RED needs named recipients" in err
    code, _, err = run(capsys, *base, "--recipients", "Analyst@UK.example, lead@uk.example")
    assert code == 0, err
    assert rows(db, "select tlp, named_recipients from incidents") == [
        ("RED", ["analyst@uk.example", "lead@uk.example"])
    ]


def test_the_hand_over_carries_map_set_and_update(db, tmp_path, capsys) -> None:
    from analytics.ingest import inbox

    src = tmp_path / "feed.csv"
    src.write_text("Ref,Headline,When\nB1,Stolen weights,2025-02-01\n")
    code, _, err = run(
        capsys, "import", "csv", str(src), "--db", str(db), "--as", "UK", "--tlp", "GREEN", "--releasable", "UK",
        "--inbox", "--map", "Ref=id", "--map", "Headline=title", "--map", "When=occurred_on",
        "--set", "category=Jailbreak", "--set", "severity=2", "--update", "--source", "weekly",
    )  # fmt: skip
    assert code == 0, err
    results = inbox.process_inbox(open_store(db))
    close_all()
    assert [r.outcome for r in results] == ["imported"], results
    assert rows(db, "select id, title, category, source from incidents") == [
        ("UK-B1", "Stolen weights", "Jailbreak", "weekly")
    ]


AVID_2023 = SHARED_DATA / "avid" / "reports" / "2023"
SAME_COLUMNS = (
    "id, title, summary, occurred_on, occurred_precision, originator, source, tlp, releasable_to, developer, "
    "affected_system"
)


@pytest.mark.skipif(not AVID_2023.exists(), reason="no AVID snapshot in ../shared/data")
def test_the_generic_mapping_gives_the_dedicated_importers_records(tmp_path, capsys) -> None:
    """AVID reports through `import json --source avid --map ... --set ...` and through `import avid`: the same
    PUBLIC records (ids, text, dates, provenance, marking); category and severity come from --set instead of the
    crosswalk, as the analyst chooses."""
    generic, dedicated = tmp_path / "generic.duckdb", tmp_path / "dedicated.duckdb"
    code, _, err = run(
        capsys, "import", "json", str(AVID_2023), "--db", str(generic), "--create", "--as", "UK",
        "--source", "avid", "--map", "metadata.report_id=id", "--map", "problemtype.description.value=title",
        "--map", "reported_date=occurred_on", "--map", "affects.artifacts[*].name=affected_system",
        "--map", "affects.developer=developer", "--map", "description.value=summary",
        "--set", "category=Jailbreak", "--set", "severity=2",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(capsys, "import", "avid", str(AVID_2023), "--db", str(dedicated), "--create")
    assert code == 0, err
    sql = f"select {SAME_COLUMNS} from incidents order by id"
    got = rows(generic, sql)
    assert got == rows(dedicated, sql)
    assert [r[0] for r in got] == ["AVID-2023-R0001", "AVID-2023-R0002", "AVID-2023-R0003"]
    assert {(r[5], r[6], r[7]) for r in got} == {("PUBLIC", "avid", "CLEAR")}


def test_update_never_rewrites_another_sources_records(db, tmp_path, capsys) -> None:
    src = tmp_path / "x.csv"
    src.write_text("id,title,occurred_on,category,severity\nAVID-2023-R0001,One,2025-01-01,Jailbreak,3\n")
    assert run(capsys, "import", "csv", str(src), "--db", str(db), "--source", "avid")[0] == 0
    src.write_text(
        "id,title,occurred_on,category,severity\nAVID-2023-R0001,Rewritten,2025-01-01,Jailbreak,3\n"
    )
    code, _, err = run(capsys, "import", "csv", str(src), "--db", str(db), "--source", "aiid", "--update")
    assert code == 2
    assert "from the source 'avid': --update refreshes records of the source it imports ('aiid')" in err
    code, out, err = run(capsys, "import", "csv", str(src), "--db", str(db), "--source", "avid", "--update")
    assert code == 0 and "0 added, 1 updated" in out, err
    assert rows(db, "select title, originator from incidents") == [("Rewritten", "PUBLIC")]
