"""Epoch AI Benchmarking Hub import: counts, dates, developers and scores checked against the CSVs, read here
independently with pandas; bad CSVs refused naming file, line and column with the store unchanged."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analytics.ingest import ImportRefused
from analytics.ingest.epoch import CREDIT, KNOWN_FILES, import_epoch
from tests.conftest import SHARED_DATA

EPOCH = SHARED_DATA / "epoch-benchmarks"
pytestmark = pytest.mark.skipif(not EPOCH.exists(), reason="needs ../shared/data/epoch-benchmarks")

TABLES = ("eval_runs", "import_batches", "record_history")


def snapshot(store: Any) -> dict[str, list[str]]:
    con = store.cursor()
    return {t: sorted(map(repr, con.execute(f"select * from {t}").fetchall())) for t in TABLES}


def expected_runs(csv: Path) -> pd.DataFrame:
    """Independently: rows with a model version and a score, best score per model, percent -> fraction."""
    layout = KNOWN_FILES[csv.stem]
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    df = df[(df["Model version"].str.strip() != "") & (df[layout.score].str.strip() != "")].copy()
    df["score"] = df[layout.score].astype(float) / (100 if layout.percent else 1)
    df["model"] = df["Model version"].str.strip()
    df = df.sort_values("score", ascending=False, kind="stable").drop_duplicates("model")
    return df


def test_every_file_every_model_with_dates_and_developers(store) -> None:
    report = import_epoch(store.store, EPOCH, actor="tester")
    con = store.cursor()
    csvs = sorted(EPOCH.glob("*.csv"))
    assert len(csvs) == 50
    total = 0
    for csv in csvs:
        exp = expected_runs(csv)
        total += len(exp)
        name = KNOWN_FILES[csv.stem].name
        got = con.execute(
            "select model, model_developer, model_release_date, score from eval_runs where benchmark = ?",
            [name],
        ).df()
        assert len(got) == len(exp), csv.name
        got = got.set_index("model")
        for r in exp.itertuples():
            g = got.loc[r.model]
            rel = exp.loc[r.Index, "Release date"].strip()
            if rel:
                assert g["model_release_date"].date() == date.fromisoformat(rel), (csv.name, r.model)
            else:
                assert pd.isna(g["model_release_date"]), (csv.name, r.model)
            org = exp.loc[r.Index, "Organization"].strip()
            dev = g["model_developer"]
            assert (dev if isinstance(dev, str) else "") == org, (csv.name, r.model)
            assert g["score"] == pytest.approx(r.score), (csv.name, r.model)
    assert report.added == total
    assert con.execute("select count(*) from eval_runs").fetchone() == (total,)
    assert con.execute(
        "select distinct institute, source, tlp, releasable_to, status from eval_runs"
    ).fetchall() == [("PUBLIC", "epoch", "CLEAR", ["AU", "UK"], "success")]


def test_known_values_from_the_cybench_file(store) -> None:
    import_epoch(store.store, EPOCH / "cybench_external.csv", actor="tester")
    row = (
        store.cursor()
        .execute(
            "select run_id, model_developer, model_release_date, metric, score, details->>'credit', "
            "details->>'benchmark_key' from eval_runs where model = 'claude-opus-4-6_unknown'"
        )
        .fetchone()
    )
    assert row == (
        "epoch:cybench:claude-opus-4-6_unknown",
        "Anthropic",
        date(2026, 2, 5),
        "Unguided % Solved",
        0.93,
        CREDIT,
        "cybench",
    )


def test_percent_files_become_fractions_and_stderr_and_eval_dates_are_read(store) -> None:
    import_epoch(store.store, EPOCH / "aider_polyglot_external.csv", actor="t")
    import_epoch(store.store, EPOCH / "gpqa_diamond.csv", actor="t")
    con = store.cursor()
    assert con.execute("select max(score) from eval_runs where benchmark = 'Aider Polyglot'").fetchone() == (
        0.88,
    )
    df = pd.read_csv(EPOCH / "gpqa_diamond.csv", dtype=str, keep_default_na=False)
    first = df.iloc[0]
    row = con.execute(
        "select score, stderr, eval_date from eval_runs where benchmark = 'GPQA Diamond' and model = ?",
        [first["Model version"]],
    ).fetchone()
    assert row[0] == pytest.approx(float(first["mean_score"]))
    assert row[1] == pytest.approx(float(first["stderr"]))
    assert row[2] == date.fromisoformat(first["Started at"][:10])


def test_reimport_changes_nothing_and_a_changed_score_is_an_update_with_history(store, tmp_path) -> None:
    src = tmp_path / "cybench_external.csv"
    shutil.copy(EPOCH / "cybench_external.csv", src)
    import_epoch(store.store, src, actor="t")
    before = snapshot(store.store)["eval_runs"]
    again = import_epoch(store.store, src, actor="t")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 22)
    assert snapshot(store.store)["eval_runs"] == before
    src.write_text(
        src.read_text().replace("claude-opus-4-6_unknown,0.93,", "claude-opus-4-6_unknown,0.95,", 1)
    )
    third = import_epoch(store.store, src, actor="t")
    assert (third.added, third.updated, third.unchanged) == (0, 1, 21)
    con = store.cursor()
    assert con.execute(
        "select score from eval_runs where run_id = 'epoch:cybench:claude-opus-4-6_unknown'"
    ).fetchone() == (0.95,)
    assert con.execute(
        "select previous->>'score' from record_history where record_id = 'epoch:cybench:claude-opus-4-6_unknown'"
    ).fetchone() == ("0.93",)


def test_tlp_can_be_raised_never_lowered(store, tmp_path) -> None:
    import_epoch(store.store, EPOCH / "cybench_external.csv", actor="t", tlp="GREEN")
    assert store.cursor().execute("select distinct tlp from eval_runs").fetchall() == [("GREEN",)]
    src = tmp_path / "cybench_external.csv"
    src.write_text((EPOCH / "cybench_external.csv").read_text().replace(",0.93,", ",0.94,", 1))
    import_epoch(store.store, src, actor="t")  # default CLEAR; the changed run keeps GREEN
    assert store.cursor().execute("select distinct tlp from eval_runs").fetchall() == [("GREEN",)]


def _broken(tmp: Path, name: str, old: str, new: str) -> Path:
    path = tmp / name
    path.write_text((EPOCH / name).read_text().replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("date", r"cybench_external\.csv, line 2, column 'Release date': '05/02/2026' is not a date"),
        ("month", r"cybench_external\.csv, line 2, column 'Release date': '2026-13-05' is not a date"),
        ("score", r"cybench_external\.csv, line 2, column 'Unguided % Solved': 'high' is not a number"),
        ("column", r"cybench_external\.csv: missing column\(s\) 'Release date'"),
        ("score column", r"cybench_external\.csv: missing column 'Unguided % Solved'"),
        ("ragged", r"cybench_external\.csv, line 2: 3 cells, the header has 15"),
    ],
)
def test_bad_csv_is_refused_naming_file_line_and_column(store, tmp_path, case: str, message: str) -> None:
    import_epoch(store.store, EPOCH / "gpqa_diamond.csv", actor="t")
    name = "cybench_external.csv"
    text = (EPOCH / name).read_text()
    lines = text.split("\n")
    if case == "date":
        path = _broken(tmp_path, name, "0.93,2026-02-05", "0.93,05/02/2026")
    elif case == "month":
        path = _broken(tmp_path, name, "0.93,2026-02-05", "0.93,2026-13-05")
    elif case == "score":
        path = _broken(tmp_path, name, "claude-opus-4-6_unknown,0.93", "claude-opus-4-6_unknown,high")
    elif case == "column":
        path = _broken(tmp_path, name, "Release date", "Released")
    elif case == "score column":
        path = _broken(tmp_path, name, "Unguided % Solved", "Solved")
    else:
        path = tmp_path / name
        path.write_text("\n".join([lines[0], "a,b,c", *lines[1:]]))
    before = snapshot(store.store)
    with pytest.raises(ImportRefused, match=message):
        import_epoch(store.store, path, actor="t")
    assert snapshot(store.store) == before


def test_one_bad_csv_refuses_the_folder(store, tmp_path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(EPOCH / "gpqa_diamond.csv", folder)
    _broken(folder, "cybench_external.csv", "0.93,2026-02-05", "0.93,soon")
    before = snapshot(store.store)
    with pytest.raises(ImportRefused, match=r"cybench_external\.csv, line 2"):
        import_epoch(store.store, folder, actor="t")
    assert snapshot(store.store) == before


def test_not_a_csv_and_empty_folder_are_refused(store, tmp_path) -> None:
    other = tmp_path / "x.txt"
    other.write_text("a")
    with pytest.raises(ImportRefused, match=r"x\.txt: not a CSV"):
        import_epoch(store.store, other, actor="t")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImportRefused, match="no CSV files"):
        import_epoch(store.store, empty, actor="t")


@pytest.mark.parametrize(
    "raw",
    ["2024-10-02", "2024-10-02T10:37:26Z", "2024-10-02 10:37:26.511331+00:00Z", "2024-10-02T10:37:26-0400"],
)
def test_eval_timestamps_as_tools_write_them(raw: str) -> None:
    from analytics.ingest.epoch import parse_date

    assert parse_date(raw, "f.csv", 2, "Started at") == date(2024, 10, 2)


def test_the_generic_mapping_gives_the_dedicated_importers_runs(tmp_path: Path) -> None:
    """Issue 16: an Epoch file through `import csv --map/--set/--source epoch` gives the same runs as `import
    epoch` (every column a run's content is made of; run ids differ: the importer names its own)."""
    from analytics.cli import main
    from analytics.store.database import open_store

    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(EPOCH / "gpqa_diamond.csv", folder / "gpqa_diamond.csv")
    dedicated, generic = tmp_path / "dedicated.duckdb", tmp_path / "generic.duckdb"
    assert main(["import", "epoch", str(folder), "--db", str(dedicated), "--create"]) == 0
    maps = {
        "Model version": "model",
        "mean_score": "score",
        "Release date": "model_release_date",
        "Organization": "model_developer",
        "stderr": "stderr",
        "Started at": "eval_date",
    }
    argv = ["import", "csv", str(EPOCH / "gpqa_diamond.csv"), "--db", str(generic), "--create"]
    argv += ["--records", "eval_runs", "--source", "epoch", "--set", "benchmark=GPQA Diamond"]
    argv += ["--set", "metric=mean_score"]
    for column, field in maps.items():
        argv += ["--map", f"{column}={field}"]
    assert main(argv) == 0
    content = (
        "select model, benchmark, metric, round(score, 9), model_release_date, model_developer, round(stderr, 9), "
        "eval_date, task_version, n_samples, status, institute, source, tlp, releasable_to::varchar "
        "from eval_runs order by all"
    )
    runs = []
    for path in (dedicated, generic):
        con = open_store(path).cursor()  # this process holds the store the CLI opened: read through it
        runs.append(con.execute(content).fetchall())
        con.close()
    assert len(runs[0]) == 157
    assert runs[0] == runs[1]
