"""Spreadsheet and JSON imports: encodings, dates, list cells, mapping, validation with row/column, markings."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from analytics.export import table as table_export
from analytics.ingest import ImportRefused
from analytics.ingest.tabular.commit import commit, import_tabular
from analytics.ingest.tabular.convert import BadCell, parse_date
from analytics.ingest.tabular.mapping import auto_mapping, detect_target, source_key_for, suggest_mapping
from analytics.ingest.tabular.plan import ImportPlan
from analytics.ingest.tabular.read import read_path, read_tabular
from analytics.ingest.tabular.validate import validate
from tests.conftest import AU_ANALYST, UK_ANALYST, UK_POLICY

HEADER = ["id", "title", "occurred_on", "category", "severity", "sectors", "tlp", "releasable_to"]


def csv_bytes(rows: list[list[Any]], header: list[str] = HEADER, encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def good_row(k: int = 1, **kw: Any) -> list[Any]:
    row = {
        "id": f"X-{k:03d}",
        "title": f"Partner incident {k}",
        "occurred_on": "2025-03-05",
        "category": "Jailbreak",
        "severity": "4",
        "sectors": "finance; defence",
        "tlp": "GREEN",
        "releasable_to": "UK,AU",
    }
    row.update(kw)
    return [row[h] for h in HEADER]


def state(store: Any) -> tuple[int, ...]:
    """Everything an import may write: a refused import leaves all of it unchanged."""
    row = (
        store.cursor()
        .execute(
            "select (select count(*) from incidents), (select count(*) from incident_techniques), "
            "(select count(*) from eval_runs), (select count(*) from import_batches), "
            "(select count(*) from column_mappings), (select count(*) from audit_log)"
        )
        .fetchall()[0]
    )
    return tuple(row)


def plan_for(store: Any, data: bytes, name: str = "partner.csv", **kw: Any) -> ImportPlan:
    tf = read_tabular(name, data)
    target = kw.pop("target", None) or detect_target(tf.columns)
    mapping = kw.pop("mapping", None) or auto_mapping(tf.columns, target)
    kw.setdefault("institute", "UK")
    kw.setdefault("tlp", None)
    kw.setdefault("releasable", None)
    return validate(store.cursor(), tf, target=target, mapping=mapping, **kw)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# -- encodings ------------------------------------------------------------------------------------------------

TITLE = "Café intrusion — £2m fraud via Zürich deepfake"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("latin-1", "latin-1 (windows-1252)"),
        ("utf-16", "utf-16"),  # with BOM
        ("utf-16-le", "utf-16-le"),  # without BOM
    ],
)
def test_each_encoding_imports_the_same_text(store, tmp_path, encoding: str, expected: str) -> None:
    title = TITLE if encoding != "latin-1" else TITLE.replace("—", "-")  # no em dash in Latin-1
    data = csv_bytes([good_row(1, title=title)], encoding=encoding)
    tf = read_tabular("p.csv", data)
    assert tf.encoding == expected
    assert tf.columns == HEADER
    report = import_tabular(
        store.store, write(tmp_path, "p.csv", data), actor="t@x", institute="UK", tlp=None, releasable=None
    )
    assert report.added == 1
    got = store.cursor().execute("select title from incidents where id = 'UK-X-001'").fetchall()
    assert got == [(title,)]


def test_windows_1252_specials_decode(store) -> None:
    data = "id,title\nA,“quoted” €5\n".encode("cp1252")
    tf = read_tabular("p.csv", data)
    assert tf.rows == [["A", "“quoted” €5"]]


def test_semicolon_delimited_csv_is_sniffed() -> None:
    data = b"id;title;severity\nA;One;3\nB;Two;4\n"
    tf = read_tabular("p.csv", data)
    assert tf.columns == ["id", "title", "severity"]
    assert tf.rows == [["A", "One", "3"], ["B", "Two", "4"]]


# -- dates ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2024-03-05T10:20:30Z", date(2024, 3, 5)),
        ("2024-03-05 10:20:30", date(2024, 3, 5)),
        ("2024-03-05T10:20:30+10:00", date(2024, 3, 5)),
        ("2024/03/05", date(2024, 3, 5)),
        ("05/03/2024", date(2024, 3, 5)),  # day first, as in the UK and Australia
        ("5/3/24", date(2024, 3, 5)),
        ("05-03-2024", date(2024, 3, 5)),
        ("05.03.2024", date(2024, 3, 5)),
        ("5 March 2024", date(2024, 3, 5)),
        ("5 Mar 2024", date(2024, 3, 5)),
        ("5th March 2024", date(2024, 3, 5)),
        ("05-Mar-2024", date(2024, 3, 5)),
        ("March 5, 2024", date(2024, 3, 5)),
        ("Sept 5 2024", date(2024, 9, 5)),
        ("20240305", date(2024, 3, 5)),
    ],
)
def test_date_formats(raw: str, expected: date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2024-02-30", "is not a real date"),
        ("31/31/2024", "not a valid day-first"),
        ("yesterday", "not a date in a known format"),
        ("5 Foo 2024", "unknown month"),
    ],
)
def test_bad_dates_say_why(raw: str, message: str) -> None:
    with pytest.raises(BadCell, match=message):
        parse_date(raw)


def test_month_first_column_is_detected_and_warned(store) -> None:
    rows = [good_row(1, occurred_on="03/25/2024"), good_row(2, occurred_on="04/02/2024")]
    plan = plan_for(store, csv_bytes(rows))
    assert plan.ok
    assert plan.rows.column("occurred_on").to_pylist() == [date(2024, 3, 25), date(2024, 4, 2)]
    assert any("month-first" in w for w in plan.warnings)


def test_day_first_is_the_default_for_ambiguous_dates(store) -> None:
    plan = plan_for(store, csv_bytes([good_row(1, occurred_on="04/02/2024")]))
    assert plan.rows.column("occurred_on").to_pylist() == [date(2024, 2, 4)]


# -- list cells -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        "finance; defence",
        "finance;defence",
        '["finance", "defence"]',
        "Finance | Defence",
        "finance, defence",
    ],
)
def test_list_cells(store, cell: str) -> None:
    plan = plan_for(store, csv_bytes([good_row(1, sectors=cell)]))
    assert plan.ok, plan.problems
    assert plan.rows.column("sectors").to_pylist() == [["finance", "defence"]]


def test_json_lists_and_numbers_in_json_records(store, tmp_path) -> None:
    records = [
        {
            "id": "J-1",
            "title": "JSON incident",
            "occurred_on": "2025-01-02",
            "category": "prompt injection",
            "severity": 5,
            "sectors": ["finance", "healthcare"],
            "countries": ["gb", "AU"],
            "techniques": ["AML.T0051.000"],
            "tlp": "TLP:AMBER",
            "releasable_to": ["UK"],
        }
    ]
    p = write(tmp_path, "feed.json", json.dumps({"incidents": records}).encode())
    report = import_tabular(store.store, p, actor="t@x", institute="UK", tlp=None, releasable=None)
    assert (report.kind, report.added) == ("json", 1)
    row = (
        store.cursor()
        .execute(
            "select category, severity, sectors, countries, tlp, releasable_to, source from incidents "
            "where id = 'UK-J-1'"
        )
        .fetchall()
    )
    assert row == [
        ("Prompt injection", 5, ["finance", "healthcare"], ["GB", "AU"], "AMBER", ["UK"], "spreadsheet")
    ]
    techs = (
        store.cursor()
        .execute("select technique_id from incident_techniques where incident_id = 'UK-J-1'")
        .fetchall()
    )
    assert techs == [("AML.T0051.000",)]


def test_jsonl(store, tmp_path) -> None:
    lines = [
        json.dumps(
            {
                "title": f"Line {k}",
                "occurred_on": "2025-01-0" + str(k),
                "category": "Jailbreak",
                "severity": 2,
            }
        )
        for k in (1, 2, 3)
    ]
    p = write(tmp_path, "feed.jsonl", ("\n".join(lines) + "\n").encode())
    report = import_tabular(store.store, p, actor="t@x", institute="AU", tlp="CLEAR", releasable=["UK", "AU"])
    assert (report.kind, report.added) == ("jsonl", 3)
    # no id column: ids are derived from the content, so the same rows again are duplicates
    with pytest.raises(ImportRefused, match="already in the store"):
        import_tabular(store.store, p, actor="t@x", institute="AU", tlp="CLEAR", releasable=["UK", "AU"])
    ids = [r[0] for r in store.cursor().execute("select id from incidents order by id").fetchall()]
    assert len(ids) == 3 and all(i.startswith("AU-IMP-") for i in ids)


# -- mapping --------------------------------------------------------------------------------------------------


def test_file_with_field_names_needs_no_mapping(store, tmp_path) -> None:
    tf = read_tabular("p.csv", csv_bytes([good_row()]))
    assert auto_mapping(tf.columns, "incidents") == {h: h for h in HEADER}


def test_aliases_are_matched_and_the_confirmed_mapping_is_saved_per_source(store, tmp_path) -> None:
    header = [
        "Ref",
        "Headline",
        "Incident Date",
        "Threat Type",
        "Impact",
        "Industry",
        "Marking",
        "Releasability",
    ]
    data = csv_bytes([good_row()], header=header)
    tf = read_tabular("CERT-AU_weekly_2026-11-01.csv", data)
    key = source_key_for(tf.name)
    assert key == "cert au weekly"
    mapping, origin = suggest_mapping(store.cursor(), tf, "incidents", key, "UK")
    assert origin == "matched by name"
    assert mapping == dict(zip(header, HEADER, strict=True))
    # the analyst fixes one column by hand; next week's file from the same source gets it again
    mapping["Impact"] = "severity"
    plan = validate(
        store.cursor(),
        tf,
        target="incidents",
        mapping=mapping,
        institute="UK",
        tlp=None,
        releasable=None,
        source_key=key,
    )
    commit(store.store, plan, actor="", viewer=UK_ANALYST)
    next_week = read_tabular("CERT-AU_weekly_2026-11-08.csv", csv_bytes([good_row(2)], header=header))
    again, origin = suggest_mapping(store.cursor(), next_week, "incidents", key, "UK")
    assert origin == "saved"
    assert again == mapping
    # mappings are per institute: AU's analysts start from the name match
    _, au_origin = suggest_mapping(store.cursor(), next_week, "incidents", key, "AU")
    assert au_origin == "matched by name"


def test_eval_results_are_detected_and_imported(store, tmp_path) -> None:
    data = (
        b"Model,Organization,Release date,Benchmark,Best score,Date,tlp,releasable_to\n"
        b"Aurora-2,Northwind AI,2025-06-01,Cybench,45%,12/07/2025,GREEN,UK;AU\n"
        b"Aurora-3,Northwind AI,2025-09-01,Cybench,0.61,01/10/2025,GREEN,UK;AU\n"
    )
    p = write(tmp_path, "epoch_like.csv", data)
    tf = read_path(p)
    assert detect_target(tf.columns) == "eval_runs"
    report = import_tabular(store.store, p, actor="t@x", institute="UK", tlp=None, releasable=None)
    assert report.added == 2
    rows = (
        store.cursor()
        .execute(
            "select model, model_developer, benchmark, score, eval_date, institute, status from eval_runs order by model"
        )
        .fetchall()
    )
    assert rows == [
        ("Aurora-2", "Northwind AI", "Cybench", 0.45, date(2025, 7, 12), "UK", "success"),
        ("Aurora-3", "Northwind AI", "Cybench", 0.61, date(2025, 10, 1), "UK", "success"),
    ]


# -- validation: every error with row and column, and the store unchanged ----------------------------------

ERROR_CASES = [
    ({"occurred_on": "31/31/2024"}, "occurred_on", "not a valid day-first"),
    ({"occurred_on": ""}, "occurred_on", "occurred_on is required and this cell is empty"),
    ({"title": ""}, "title", "title is required"),
    ({"category": "Alien invasion"}, "category", "'Alien invasion' is not a known category"),
    ({"severity": "9"}, "severity", "'9' is not a severity (1 to 5)"),
    ({"severity": "very"}, "severity", "'very' is not a severity (1 to 5)"),
    ({"sectors": "finance; banking"}, "sectors", "'banking' is not a known sector"),
    ({"sectors": '["finance"'}, "sectors", "looks like a JSON list but is not valid JSON"),
    ({"tlp": "TLP:PURPLE"}, "tlp", "unknown TLP marking 'TLP:PURPLE'"),
    ({"tlp": ""}, "tlp", "no TLP marking in this row and no default"),
    ({"tlp": "RED"}, "tlp", "TLP:RED needs named recipients"),
    ({"releasable_to": "UK, NZ"}, "releasable_to", "unknown releasability NZ"),
    ({"releasable_to": ""}, "releasable_to", "no releasability in this row and no default"),
    ({"id": "bad id!"}, "id", "'bad id!' is not a usable id"),
    ({"title": "x" * 501}, "title", "is 501 characters long; the limit is 500"),
]


@pytest.mark.parametrize(("change", "column", "message"), ERROR_CASES)
def test_each_validation_error_names_row_and_column_and_writes_nothing(
    store, tmp_path, change: dict[str, str], column: str, message: str
) -> None:
    rows = [good_row(1), good_row(2), good_row(3, **change)]
    before = state(store)
    plan = plan_for(store, csv_bytes(rows))
    assert not plan.ok
    bad = [p for p in plan.problems if p.column == column]
    assert bad and bad[0].row == 3, plan.problems
    assert message in bad[0].message
    assert bad[0].text().startswith(f"row 3, column '{column}': ")
    assert plan.valid_rows == [1, 2]
    with pytest.raises(ImportRefused) as e:
        import_tabular(
            store.store,
            write(tmp_path, "p.csv", csv_bytes(rows)),
            actor="t",
            institute="UK",
            tlp=None,
            releasable=None,
        )
    assert f"row 3, column '{column}'" in str(e.value)
    assert state(store) == before


def test_every_problem_is_listed_not_just_the_first(store) -> None:
    rows = [good_row(1, severity="0", category="nope"), good_row(2), good_row(3, occurred_on="soon")]
    plan = plan_for(store, csv_bytes(rows))
    assert [(p.row, p.column) for p in plan.problems] == [
        (1, "category"),
        (1, "severity"),
        (3, "occurred_on"),
    ]


def test_ragged_row_is_a_problem_with_its_row(store) -> None:
    data = b"id,title,occurred_on,category,severity,tlp,releasable_to\nA,t,2024-01-01,Jailbreak,3,GREEN,UK\nB,t,2024-01-01\n"
    plan = plan_for(store, data)
    assert (
        next(p.text() for p in plan.problems if not p.column)
        == "row 2: row has 3 cells but the header has 7 columns"
    )


def test_missing_required_mapping_is_a_file_problem(store) -> None:
    data = b"id,title,occurred_on,tlp,releasable_to\nA,t,2024-01-01,GREEN,UK\n"
    plan = plan_for(store, data)
    texts = [p.text() for p in plan.file_level_problems]
    assert any(t.startswith("file: no column is mapped to the required field 'category'") for t in texts)
    assert any(t.startswith("file: no column is mapped to the required field 'severity'") for t in texts)
    with pytest.raises(ImportRefused):  # never committed, not even "only the valid rows"
        commit(store.store, plan, actor="t", only_valid=True)


def test_no_marking_at_all_is_refused(store) -> None:
    data = csv_bytes([good_row()[:6]], header=HEADER[:6])
    plan = plan_for(store, data)
    assert "file: no TLP marking: give --tlp or map a column (Data page: choose a default TLP)" in [
        p.text() for p in plan.problems
    ]


# -- duplicates -----------------------------------------------------------------------------------------------


def test_duplicate_ids_within_the_file(store) -> None:
    plan = plan_for(store, csv_bytes([good_row(1), good_row(2), good_row(1, title="again")]))
    dup = [p for p in plan.problems if p.column == "id"]
    assert [(p.row, p.message) for p in dup] == [(3, "id 'X-001' is already used by row 1 of this file")]


def test_duplicate_ids_against_the_store(store) -> None:
    store.incident(id="UK-X-002")  # a file's ids are namespaced by the importing institute (UK here)
    before = state(store)
    plan = plan_for(store, csv_bytes([good_row(1), good_row(2)]))
    assert [(p.row, p.column, p.message) for p in plan.problems] == [
        (
            2,
            "id",
            "id 'X-002' (as 'UK-X-002') is already in the store; give --update to replace it (an import adds "
            "records unless --update)",
        )
    ]
    with pytest.raises(ImportRefused):
        commit(store.store, plan, actor="t")
    assert state(store) == before


# -- only the valid rows, rejected rows as a file -------------------------------------------------------------


def test_commit_only_valid_rows_keeps_the_rejected_as_a_file(store) -> None:
    formula = '=HYPERLINK("http://x.example","open")'
    rows = [good_row(1), good_row(2, severity="11"), good_row(3), good_row(4, category="??", title=formula)]
    plan = plan_for(store, csv_bytes(rows))
    with pytest.raises(ImportRefused, match="2 problems in 2 of 4 rows"):
        commit(store.store, plan, actor="t", viewer=UK_ANALYST)
    report = commit(store.store, plan, actor="t", viewer=UK_ANALYST, only_valid=True)
    assert (report.added, report.rejected) == (2, 2)
    assert "2 rows rejected and not imported (rows 2, 4)" in report.warnings
    ids = store.cursor().execute("select id from incidents order by id").fetchall()
    assert ids == [("UK-X-001",), ("UK-X-003",)]
    rejected = table_export.export_csv(
        store.store,
        UK_ANALYST,
        plan.rejected_rows_frame(),
        plan.marking,
        header=[table_export.marking_comment(plan.marking)],
        obj="table:rejected-rows",
    )
    lines = rejected.decode("utf-8").splitlines()
    assert lines[0].startswith("# TLP:")
    back = list(csv.reader(io.StringIO("\n".join(lines[1:]))))
    assert back[0] == ["source_row", *HEADER, "problems"]
    assert [r[0] for r in back[1:]] == ["2", "4"]
    assert back[1][1:-1] == good_row(2, severity="11")
    assert back[1][-1] == "severity: '11' is not a severity (1 to 5)"
    # the file is an export like any other: formulas escaped, and audited
    assert back[2][1 + HEADER.index("title")] == "'" + formula
    exports = (
        store.cursor()
        .execute("select object from audit_log where action = 'export' and object = 'table:rejected-rows'")
        .fetchall()
    )
    assert exports == [("table:rejected-rows",)]
    batch = store.cursor().execute("select imported_by, added, rejected from import_batches").fetchall()
    assert batch == [("analyst@uk.example", 2, 2)]


def test_policymakers_cannot_import(store) -> None:
    plan = plan_for(store, csv_bytes([good_row()]))
    with pytest.raises(PermissionError):
        commit(store.store, plan, actor="", viewer=UK_POLICY)


# -- markings -------------------------------------------------------------------------------------------------


def test_default_marking_raises_never_lowers(store) -> None:
    rows = [good_row(1, tlp="GREEN"), good_row(2, tlp="AMBER+STRICT"), good_row(3, tlp="")]
    plan = plan_for(store, csv_bytes(rows), tlp="AMBER", releasable=["UK"])
    assert plan.ok, plan.problems
    assert plan.rows.column("tlp").to_pylist() == ["AMBER", "AMBER+STRICT", "AMBER"]
    assert plan.rows.column("releasable_to").to_pylist() == [["UK"], ["UK"], ["UK"]]
    assert plan.marking.tlp == "AMBER+STRICT" and plan.marking.releasable_to == ("UK",)


def test_releasability_that_leaves_nobody_is_refused(store) -> None:
    plan = plan_for(store, csv_bytes([good_row(1, releasable_to="AU")]), releasable=["UK"])
    assert [p.column for p in plan.problems] == ["releasable_to"]
    assert "nobody could receive it" in plan.problems[0].message


def test_red_rows_keep_their_named_recipients(store, tmp_path) -> None:
    header = [*HEADER, "named_recipients"]
    rows = [[*good_row(1, tlp="RED"), "Lead@UK.example; analyst@uk.example"]]
    p = write(tmp_path, "red.csv", csv_bytes(rows, header=header))
    import_tabular(store.store, p, actor="t", institute="UK", tlp=None, releasable=None)
    got = store.cursor().execute("select tlp, named_recipients from incidents").fetchall()
    assert got == [("RED", ["lead@uk.example", "analyst@uk.example"])]


def test_originator_is_the_importers_institute_never_the_files(store) -> None:
    header = [*HEADER, "originator"]
    rows = [[*good_row(1), "AU"], [*good_row(2), ""], [*good_row(3), "uk"]]
    plan = plan_for(store, csv_bytes(rows, header=header), institute="UK")
    assert [(p.row, p.column) for p in plan.problems] == [(1, "originator")]
    assert "a file cannot choose the originating institute" in plan.problems[0].message
    assert plan.rows.column("originator").to_pylist() == ["UK", "UK"]
    # a person importing always imports for their own institute, whatever the column says
    plan = plan_for(store, csv_bytes(rows, header=header), institute=None, viewer=UK_ANALYST)
    assert [(p.row, p.field) for p in plan.problems] == [(1, "originator")]
    # only the store's operator replicating for no institute keeps the column (rows without one are refused)
    plan = plan_for(store, csv_bytes(rows, header=header), institute=None)
    assert [(p.row, p.field) for p in plan.problems] == [(2, "originator")]
    assert plan.rows.column("originator").to_pylist() == ["AU", "UK"]


# -- limits ---------------------------------------------------------------------------------------------------


def test_size_limit_has_a_clear_message() -> None:
    with pytest.raises(ImportRefused, match=r"big.csv is 2.0 MB; the limit is 1 MB per file"):
        read_tabular("big.csv", b"x" * (2 * 1_048_576), max_bytes=1_048_576)


def test_row_limit_has_a_clear_message() -> None:
    data = csv_bytes([good_row(k) for k in range(11)])
    with pytest.raises(
        ImportRefused, match=r"p.csv has more than 10 rows .* the limit is 10 rows per import"
    ):
        read_tabular("p.csv", data, max_rows=10)
    with pytest.raises(ImportRefused, match=r"more than 10 rows"):
        read_tabular("p.json", json.dumps([{"a": k} for k in range(11)]).encode(), max_rows=10)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("e.csv", b"", "e.csv is empty"),
        ("h.csv", b"id,title\n", "has a header but no data rows"),
        ("d.csv", b"id,id\n1,2\n", "columns 1 and 2 are both named 'id'"),
        ("j.json", b"{not json", "not valid JSON"),
        ("j.json", b"[1, 2]", "record 1 is not an object"),
        ("b.json", b'{"type": "bundle", "objects": []}', "is a STIX bundle"),
        ("l.jsonl", b'{"a": 1}\n{oops\n', "line 2 is not valid JSON"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ImportRefused, match=message):
        read_tabular(name, data)


# -- the app's hardened store ---------------------------------------------------------------------------------


def test_imports_work_on_a_hardened_store(store, tmp_path) -> None:
    store.store.harden()
    with pytest.raises(Exception, match=r"disabled|external"):
        store.cursor().execute(f"select * from read_csv('{tmp_path}/x.csv')").fetchall()
    plan = plan_for(store, csv_bytes([good_row(1), good_row(2)]), institute="AU", viewer=AU_ANALYST)
    report = commit(store.store, plan, actor="", viewer=AU_ANALYST)
    assert report.added == 2
    assert store.cursor().execute("select count(*) from incidents").fetchall() == [(2,)]
