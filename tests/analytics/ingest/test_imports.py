"""Import history and undo of a whole batch: scope, exact restoration, refusals, audit, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analytics.cli import main
from analytics.ingest.history import UndoRefused, history, undo_batch
from analytics.ingest.stix.commit import import_stix_bytes
from analytics.ingest.tabular.commit import commit
from analytics.ingest.tabular.mapping import auto_mapping
from analytics.ingest.tabular.plan import ImportPlan
from analytics.ingest.tabular.read import read_tabular
from analytics.ingest.tabular.validate import validate
from analytics.store.database import close_all
from tests.analytics.ingest.test_stix_import import T0, T1, T2, _version, bundle_bytes, institute, tlp2
from tests.conftest import ADMIN, AU_ANALYST, AU_LEAD, UK_ANALYST, UK_LEAD

CSV = (
    "id,title,occurred_on,category,severity,techniques,tlp,releasable_to\n"
    "{p}-1,First,2025-01-01,Jailbreak,3,AML.T0054,GREEN,UK;AU\n"
    "{p}-2,Second,2025-01-02,Model theft,4,AML.T0024,AMBER,UK;AU\n"
)


def import_csv(store: Any, viewer: Any, prefix: str) -> str:
    tf = read_tabular(f"{prefix}.csv", CSV.format(p=prefix).encode())
    plan = validate(
        store.cursor(),
        tf,
        target="incidents",
        mapping=auto_mapping(tf.columns, "incidents"),
        institute=viewer.institute if viewer.institute != "JOINT" else "UK",
        tlp=None,
        releasable=None,
    )
    return commit(store.store, plan, actor="", viewer=viewer).batch_id


def counts(store: Any) -> tuple[int, int]:
    return tuple(
        store.cursor()
        .execute("select (select count(*) from incidents), (select count(*) from incident_techniques)")
        .fetchall()[0]
    )


def test_history_shows_who_what_when_counts_and_is_scoped(store) -> None:
    uk = import_csv(store, UK_ANALYST, "UKA")
    ukl = import_csv(store, UK_LEAD, "UKL")
    au = import_csv(store, AU_ANALYST, "AUA")
    df = history(store.cursor(), UK_ANALYST)
    assert df["batch_id"].tolist() == [uk]
    row = df.iloc[0]
    assert (row["kind"], row["source"], row["imported_by"], row["institute"], row["added"]) == (
        "csv",
        "UKA.csv",
        "analyst@uk.example",
        "UK",
        2,
    )
    assert set(history(store.cursor(), UK_LEAD)["batch_id"]) == {uk, ukl}
    assert set(history(store.cursor(), AU_LEAD)["batch_id"]) == {au}
    assert set(history(store.cursor(), ADMIN)["batch_id"]) == {uk, ukl, au}


def test_undo_removes_exactly_the_batch_and_is_audited(store) -> None:
    store.incident(id="KEEP-1", techniques=["AML.T0051"])
    first = import_csv(store, UK_ANALYST, "A")
    second = import_csv(store, UK_ANALYST, "B")
    assert counts(store) == (5, 5)
    report = undo_batch(store.store, first, actor="", viewer=UK_ANALYST)
    assert (report.removed, report.restored) == (2, 0)
    ids = [r[0] for r in store.cursor().execute("select id from incidents order by id").fetchall()]
    assert ids == ["KEEP-1", "UK-B-1", "UK-B-2"]  # a file's ids are namespaced by the importing institute
    assert counts(store) == (3, 3)
    batch = (
        store.cursor()
        .execute("select undone_by, undone_at is not null from import_batches where batch_id = ?", [first])
        .fetchall()
    )
    assert batch == [("analyst@uk.example", True)]
    audit = (
        store.cursor()
        .execute("select email, object, detail from audit_log where action = 'undo import'")
        .fetchall()
    )
    assert audit == [
        (
            "analyst@uk.example",
            f"batch:{first}",
            json.dumps({"kind": "csv", "removed": 2, "restored": 0}, sort_keys=True),
        )
    ]
    with pytest.raises(UndoRefused, match="already undone"):
        undo_batch(store.store, first, actor="", viewer=UK_ANALYST)
    assert second  # untouched
    # the same file can be imported again after its batch was undone
    import_csv(store, UK_ANALYST, "A")
    assert counts(store) == (5, 5)


def test_who_may_undo(store) -> None:
    mine = import_csv(store, UK_ANALYST, "A")
    with pytest.raises(UndoRefused, match=r"no import batch .* that you may undo"):
        undo_batch(
            store.store, mine, actor="", viewer=AU_LEAD
        )  # another institute: looks like it does not exist
    other = import_csv(store, UK_LEAD, "L")
    with pytest.raises(UndoRefused, match="that you may undo"):
        undo_batch(store.store, other, actor="", viewer=UK_ANALYST)  # analysts undo only their own
    undo_batch(store.store, mine, actor="", viewer=UK_LEAD)  # leads undo their institute's
    undo_batch(store.store, other, actor="", viewer=ADMIN)
    with pytest.raises(UndoRefused, match="no import batch 'nope'"):
        undo_batch(store.store, "nope", actor="", viewer=ADMIN)


def test_undo_is_refused_while_a_later_batch_builds_on_it(store) -> None:
    amber = tlp2("AMBER")

    def send(modified, name):
        data = bundle_bytes(amber, institute("UK"), _version(modified, name=name, marking=amber))
        return import_stix_bytes(
            store.store, "b.json", data, actor="t", institute="UK", tlp=None, releasable=None
        )

    a = send(T0, "v1").batch_id
    b = send(T1, "v2").batch_id
    c = send(T2, "v3").batch_id
    with pytest.raises(UndoRefused, match=f"later imports changed records of batch {a} \\({c}, {b}\\)"):
        undo_batch(store.store, a, actor="t")
    with pytest.raises(UndoRefused, match=f"\\({c}\\)"):
        undo_batch(store.store, b, actor="t")
    assert store.cursor().execute("select title from incidents").fetchall() == [("v3",)]
    assert undo_batch(store.store, c, actor="t").restored == 1
    assert store.cursor().execute("select title from incidents").fetchall() == [("v2",)]
    undo_batch(store.store, b, actor="t")
    assert store.cursor().execute("select title from incidents").fetchall() == [("v1",)]
    undo_batch(store.store, a, actor="t")
    assert store.cursor().execute("select count(*) from incidents").fetchall() == [(0,)]
    assert store.cursor().execute(
        "select (select count(*) from stix_records), (select count(*) from record_history)"
    ).fetchall() == [(0, 0)]


def test_taxonomy_batches_are_not_undone(store) -> None:
    with store.store.transaction() as con:
        con.execute(
            "insert into import_batches (batch_id, kind, source, imported_by) values ('atlas-1', 'atlas', 'ATLAS.yaml', 'cli')"
        )
    with pytest.raises(UndoRefused, match="atlas imports are shared reference data"):
        undo_batch(store.store, "atlas-1", actor="cli")


def test_undo_of_eval_results_removes_them(store) -> None:
    store.eval_run(run_id="KEEP")
    data = b"model,benchmark,score,tlp,releasable_to\nA,Cybench,0.5,GREEN,UK\nB,Cybench,0.6,GREEN,UK\n"
    tf = read_tabular("evals.csv", data)
    plan = validate(
        store.cursor(),
        tf,
        target="eval_runs",
        mapping=auto_mapping(tf.columns, "eval_runs"),
        institute="UK",
        tlp=None,
        releasable=None,
    )
    batch = commit(store.store, plan, actor="t").batch_id
    assert undo_batch(store.store, batch, actor="t").removed == 2
    assert store.cursor().execute("select run_id from eval_runs").fetchall() == [("KEEP",)]


def test_cli_history_and_undo(store, tmp_path: Path, capsys) -> None:
    batch = import_csv(store, UK_ANALYST, "A")
    db = str(store.store.path)
    close_all()
    assert main(["history", "--db", db]) == 0
    out = capsys.readouterr().out
    assert batch in out and "A.csv  by analyst@uk.example  +2 ~0 =0 x0  0 warnings" in out
    assert main(["undo", batch, "--db", db, "--actor", "ops@uk.example"]) == 0
    assert f"undid {batch}: 2 records removed, 0 earlier versions restored" in capsys.readouterr().out
    assert main(["undo", batch, "--db", db]) == 2
    assert "refused: batch" in capsys.readouterr().err
    assert main(["history", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "UNDONE" in out and "by ops@uk.example" in out
    close_all()


def test_a_batch_belongs_to_the_institute_its_records_come_from(store) -> None:
    data = CSV.format(p="AUX").replace("tlp,releasable_to", "tlp,releasable_to,originator")
    data = data.replace("UK;AU\n", "UK;AU,AU\n")
    tf = read_tabular("au.csv", data.encode())

    def plan_as(institute: str | None) -> ImportPlan:
        return validate(
            store.cursor(),
            tf,
            target="incidents",
            mapping=auto_mapping(tf.columns, "incidents"),
            institute=institute,
            tlp=None,
            releasable=None,
        )

    # an institute was chosen: a file's originator column that contradicts it is refused on its rows
    assert {(p.row, p.field) for p in plan_as("UK").problems} == {(1, "originator"), (2, "originator")}
    # the store's operator importing for no institute (a replica of both institutes) keeps the file's column
    plan = plan_as(None)
    assert plan.ok, plan.problems
    batch = commit(store.store, plan, actor="cli").batch_id
    assert history(store.cursor(), AU_LEAD)["batch_id"].tolist() == [batch]
    assert history(store.cursor(), UK_LEAD).empty
