"""Inspect log import: real logs made here by running a tiny task against an offline scripted model, imported,
and checked field by field against what inspect-ai itself reads back; bad files refused, store unchanged."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.log import EvalLog, read_eval_log, write_eval_log
from inspect_ai.scorer import Score, Target, accuracy, match, scorer, stderr
from inspect_ai.solver import TaskState, generate

from analytics.bench.offline_model import PROVIDER
from analytics.ingest import ImportRefused
from analytics.ingest.inspect_logs import import_inspect, score_number, score_text
from analytics.store.database import Store

# What the scripted model answers to each prompt, and the grade the letter scorer gives it.
SCRIPT: dict[str, str] = {
    "What is 2+2?": "4",
    "What is 3+3?": "six",
    "What is 5+4?": "9 or 10",
    "Name a prime.": "",
}
TARGETS: dict[str, str] = {"q1": "4", "q2": "6", "q3": "9", "q4": "7"}
PROMPTS: dict[str, str] = {
    "q1": "What is 2+2?",
    "q2": "What is 3+3?",
    "q3": "What is 5+4?",
    "q4": "Name a prime.",
}
EXPECTED_GRADE: dict[str, str] = {"q1": "C", "q2": "I", "q3": "P", "q4": "N"}
EXPECTED_MATCH: dict[str, str] = {"q1": "C", "q2": "I", "q3": "I", "q4": "I"}


@scorer(metrics=[accuracy(), stderr()])
def letter_grade():  # type: ignore[no-untyped-def]
    """C exact, P when the answer contains the target among other words, N when empty, else I."""

    async def score(state: TaskState, target: Target) -> Score:
        answer = state.output.completion.strip()
        if not answer:
            value = "N"
        elif answer == target.text:
            value = "C"
        elif target.text in answer.split():
            value = "P"
        else:
            value = "I"
        return Score(value=value, answer=answer)

    return score


def arithmetic(version: int = 3) -> Task:
    return Task(
        dataset=[Sample(input=PROMPTS[k], target=TARGETS[k], id=k) for k in PROMPTS],
        solver=generate(),
        scorer=[letter_grade(), match()],
        name="arithmetic",
        version=version,
    )


def run_eval(log_dir: Path, model: str, fmt: str = "eval", **kw: Any) -> EvalLog:
    """Run `arithmetic` against the offline model `model`, answering from SCRIPT unless model_args say otherwise."""
    kw.setdefault("model_args", {"script": SCRIPT})
    [log] = eval(
        arithmetic(), model=f"{PROVIDER}/{model}", log_dir=str(log_dir), display="none", log_format=fmt, **kw
    )
    return log


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real Inspect logs: success (.eval, 2 epochs, 2 scorers), success (.json), error, cancelled, started."""
    root = tmp_path_factory.mktemp("inspect-logs")
    out: dict[str, Path] = {}
    ok = run_eval(
        root / "ok",
        "m1",
        epochs=2,
        metadata={"model_release_date": "2025-03-01", "model_developer": "Test Lab"},
    )
    out["success"] = Path(ok.location)
    js = run_eval(root / "json", "m2", fmt="json")
    out["json"] = Path(js.location)
    err = run_eval(root / "err", "broken", model_args={"error": "model backend unavailable"})
    assert err.status == "error"
    out["error"] = Path(err.location)
    # Cancelled and still-running logs, written by Inspect's own writer from a real log.
    cancelled = read_eval_log(str(out["success"]))
    cancelled.status = "cancelled"
    cancelled.eval.eval_id = "cancelled-" + cancelled.eval.eval_id
    (root / "cancelled").mkdir()
    out["cancelled"] = root / "cancelled" / "cancelled.eval"
    write_eval_log(cancelled, str(out["cancelled"]))
    started = read_eval_log(str(out["success"]))
    started.status = "started"
    started.results = None
    started.samples = []
    (root / "started").mkdir()
    out["started"] = root / "started" / "started.eval"
    write_eval_log(started, str(out["started"]))
    return out


TABLES = ("eval_runs", "eval_samples", "eval_sample_scores", "import_batches", "record_history", "audit_log")


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    con = store.cursor()
    return {t: sorted(map(repr, con.execute(f"select * from {t}").fetchall())) for t in TABLES}  # type: ignore[misc]


def imp(store: Store, path: Path, institute: str | None = "UK", **kw: Any) -> Any:
    return import_inspect(
        store, path, actor="tester", institute=institute, tlp=kw.get("tlp"), releasable=kw.get("releasable")
    )


def run_row(store: Store, run_id: str) -> dict[str, Any]:
    cur = store.cursor().execute("select * from eval_runs where run_id = ?", [run_id])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None, run_id
    out = dict(zip(names, row, strict=True))
    out["details"] = json.loads(out["details"]) if out["details"] else None
    return out


# -- a successful log, field by field --------------------------------------------------------------------------


def test_success_log_fields_match_inspects_own_reading(store, logs) -> None:
    log = read_eval_log(str(logs["success"]))  # independent full read: the reference
    report = imp(store.store, logs["success"])
    assert (report.added, report.updated, report.unchanged) == (1, 0, 0)
    row = run_row(store.store, log.eval.eval_id)
    grade = next(s for s in log.results.scores if s.name == "letter_grade")
    assert row["run_id"] == log.eval.eval_id
    assert row["institute"] == "UK"
    assert row["model"] == "m1"
    assert row["model_developer"] == "Test Lab"  # from the run's metadata
    assert row["model_release_date"] == date(2025, 3, 1)
    assert row["benchmark"] == "arithmetic"
    assert row["task_version"] == "3"
    assert row["eval_date"] == date.fromisoformat(log.eval.created[:10])
    assert row["metric"] == "accuracy"
    assert row["score"] == pytest.approx(grade.metrics["accuracy"].value)
    assert row["score"] == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    assert row["stderr"] == pytest.approx(grade.metrics["stderr"].value)
    assert row["n_samples"] == 8  # 4 samples x 2 epochs
    assert row["status"] == "success"
    assert row["source"] == "inspect"
    assert (row["tlp"], row["releasable_to"], row["named_recipients"]) == ("AMBER", ["UK"], [])
    assert row["import_batch"] == report.batch_id
    d = row["details"]
    assert d["task"] == "arithmetic"
    assert d["inspect_run_id"] == log.eval.run_id
    assert d["model_full"] == f"{PROVIDER}/m1"
    assert d["epochs"] == 2
    assert d["headline"] == {"scorer": "letter_grade", "metric": "accuracy"}
    assert {s["scorer"]: s["metrics"] for s in d["scores"]} == {
        s.name: {k: m.value for k, m in s.metrics.items()} for s in log.results.scores
    }
    assert d["file"] == logs["success"].name


def test_success_log_samples_match_the_log(store, logs) -> None:
    log = read_eval_log(str(logs["success"]))
    imp(store.store, logs["success"])
    con = store.cursor()
    got = con.execute(
        "select sample_id, epoch, score, value from eval_samples where run_id = ? order by all",
        [log.eval.eval_id],
    ).fetchall()
    expected = sorted(
        (str(s.id), s.epoch, score_number(s.scores["letter_grade"].value), s.scores["letter_grade"].value)
        for s in log.samples
    )
    assert got == expected
    # and against the grades the scorer was written to give, C/I/P/N -> 1/0/0.5/0
    assert got == sorted(
        (k, e, {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}[g], g)
        for k, g in EXPECTED_GRADE.items()
        for e in (1, 2)
    )
    others = con.execute(
        "select sample_id, epoch, scorer, score, value from eval_sample_scores where run_id = ? order by all",
        [log.eval.eval_id],
    ).fetchall()
    assert others == sorted(
        (k, e, "match", 1.0 if g == "C" else 0.0, g) for k, g in EXPECTED_MATCH.items() for e in (1, 2)
    )


def test_json_log_imports_like_an_eval_log(store, logs) -> None:
    log = read_eval_log(str(logs["json"]))
    report = imp(store.store, logs["json"])
    assert report.added == 1
    row = run_row(store.store, log.eval.eval_id)
    assert (row["model"], row["benchmark"], row["status"], row["n_samples"]) == (
        "m2",
        "arithmetic",
        "success",
        4,
    )
    assert row["score"] == pytest.approx(0.375)
    assert row["model_developer"] is None and row["model_release_date"] is None
    n = (
        store.cursor()
        .execute("select count(*) from eval_samples where run_id = ?", [log.eval.eval_id])
        .fetchone()
    )
    assert n == (4,)


def test_reimport_changes_nothing(store, logs) -> None:
    imp(store.store, logs["success"].parent)
    before = snapshot(store.store)
    again = imp(store.store, logs["success"].parent)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    after = snapshot(store.store)
    for t in ("eval_runs", "eval_samples", "eval_sample_scores", "record_history"):
        assert after[t] == before[t], t


def test_failed_and_cancelled_logs_are_recorded_without_a_score(store, logs) -> None:
    err_log = read_eval_log(str(logs["error"]), header_only=True)
    report = imp(store.store, logs["error"])
    assert report.added == 1 and report.warnings
    row = run_row(store.store, err_log.eval.eval_id)
    assert row["status"] == "error"
    assert (row["score"], row["stderr"], row["metric"], row["n_samples"]) == (None, None, None, None)
    assert "model backend unavailable" in row["details"]["error"]
    imp(store.store, logs["cancelled"])
    cancelled = read_eval_log(str(logs["cancelled"]), header_only=True)
    row = run_row(store.store, cancelled.eval.eval_id)
    assert (row["status"], row["score"]) == ("cancelled", None)
    n = (
        store.cursor()
        .execute(
            "select count(*) from eval_samples where run_id in (?, ?)",
            [err_log.eval.eval_id, cancelled.eval.eval_id],
        )
        .fetchone()
    )
    assert n == (0,)


def test_started_then_finished_log_updates_with_history_and_never_lowers_marking(store, logs) -> None:
    first = imp(store.store, logs["started"], tlp="AMBER+STRICT")
    run_id = read_eval_log(str(logs["started"]), header_only=True).eval.eval_id
    assert run_row(store.store, run_id)["status"] == "started"
    second = imp(store.store, logs["success"], tlp="GREEN", releasable=["UK", "AU"])
    assert (second.added, second.updated) == (0, 1)
    row = run_row(store.store, run_id)
    assert row["status"] == "success" and row["score"] == pytest.approx(0.375)
    assert (row["tlp"], row["releasable_to"]) == ("AMBER+STRICT", ["UK"])  # the higher marking stays
    history = (
        store.cursor()
        .execute("select batch_id, previous->>'status' from record_history where record_id = ?", [run_id])
        .fetchall()
    )
    assert history == [(second.batch_id, "started")]
    assert first.batch_id != second.batch_id


def test_folder_import_and_batch_record(store, logs, tmp_path) -> None:
    folder = tmp_path / "logs"
    (folder / "nested").mkdir(parents=True)
    for k in ("success", "json", "error"):
        shutil.copy(logs[k], folder / logs[k].name)
    shutil.copy(logs["cancelled"], folder / "nested" / "cancelled.eval")
    (folder / "logs.json").write_text("{}")  # Inspect's listing file: not a log, skipped
    report = imp(store.store, folder, institute="AU", tlp="GREEN", releasable="UK,AU")
    assert (report.added, report.updated, report.unchanged) == (4, 0, 0)
    assert report.details["statuses"] == {"cancelled": 1, "error": 1, "started": 0, "success": 2}
    rows = (
        store.cursor()
        .execute(
            "select status, count(*) from eval_runs where import_batch = ? group by 1 order by 1",
            [report.batch_id],
        )
        .fetchall()
    )
    assert rows == [("cancelled", 1), ("error", 1), ("success", 2)]
    batch = (
        store.cursor()
        .execute(
            "select kind, imported_by, institute, added, unchanged, len(warnings) from import_batches "
            "where batch_id = ?",
            [report.batch_id],
        )
        .fetchone()
    )
    assert batch == ("inspect", "tester", "AU", 4, 0, 2)


def test_marking_options(store, logs) -> None:
    imp(store.store, logs["json"], institute="AU", tlp="green", releasable="UK,AU")
    log = read_eval_log(str(logs["json"]), header_only=True)
    row = run_row(store.store, log.eval.eval_id)
    assert (row["institute"], row["tlp"], row["releasable_to"]) == ("AU", "GREEN", ["AU", "UK"])


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"institute": None}, "--as UK or --as AU"),
        ({"tlp": "RED"}, "TLP:RED cannot be imported"),
        ({"tlp": "PURPLE"}, "unknown TLP"),
        ({"releasable": "AU"}, "leaves out the importing institute UK"),
        ({"releasable": "NZ"}, "unknown releasability"),
    ],
)
def test_bad_marking_options_are_refused(store, logs, kw: dict[str, Any], message: str) -> None:
    before = snapshot(store.store)
    with pytest.raises(ImportRefused, match=message):
        imp(store.store, logs["json"], **kw)
    assert snapshot(store.store) == before


def test_another_institutes_run_is_not_overwritten(store, logs) -> None:
    imp(store.store, logs["started"], institute="AU")
    before = snapshot(store.store)
    with pytest.raises(ImportRefused, match="already recorded by another originator"):
        imp(store.store, logs["success"], institute="UK")
    assert snapshot(store.store) == before


# -- bad files ------------------------------------------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _bad_files(tmp: Path, good: Path) -> dict[str, tuple[Path, str]]:
    data = good.read_bytes()
    truncated = tmp / "truncated.eval"
    truncated.write_bytes(data[: len(data) // 2])
    not_zip = tmp / "notzip.eval"
    not_zip.write_text("this is a text file, not a log\n")
    slip = _zip(tmp / "slip.eval", {"header.json": b"{}", "../../etc/evil.json": b"{}"})
    bomb = _zip(tmp / "bomb.eval", {"header.json": b"\0" * (20 * 1024**2)})
    no_header = _zip(tmp / "noheader.eval", {"readme.txt": b"hello"})
    garbage = _zip(tmp / "garbage.eval", {"header.json": b"{not json", "_journal/start.json": b"[]"})
    wrong_json = tmp / "wrong.json"
    wrong_json.write_text(json.dumps({"hello": "world"}))
    not_json = tmp / "broken.json"
    not_json.write_text('{"version": 2, "status": "succ')
    other = tmp / "notes.txt"
    other.write_text("x")
    return {
        "truncated": (truncated, r"truncated\.eval: not a zip archive"),
        "not zip": (not_zip, r"notzip\.eval: not a zip archive"),
        "path traversal": (slip, r"slip\.eval: unsafe path '\.\./\.\./etc/evil\.json'"),
        "zip bomb": (bomb, r"bomb\.eval: member 'header\.json' would inflate"),
        "no header": (no_header, r"noheader\.eval: wrong structure"),
        "garbage header": (garbage, r"garbage\.eval: not a readable Inspect log"),
        "wrong json": (wrong_json, r"wrong\.json: not a readable Inspect log"),
        "truncated json": (not_json, r"broken\.json: not a readable Inspect log"),
        "not a log": (other, r"notes\.txt: not an Inspect log"),
    }


BAD = [
    "truncated",
    "not zip",
    "path traversal",
    "zip bomb",
    "no header",
    "garbage header",
    "wrong json",
    "truncated json",
    "not a log",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_file_is_refused_naming_it_and_store_unchanged(store, logs, tmp_path, case: str) -> None:
    imp(store.store, logs["json"])  # something already in the store
    path, message = _bad_files(tmp_path, logs["success"])[case]
    before = snapshot(store.store)
    with pytest.raises(ImportRefused, match=message):
        imp(store.store, path)
    assert snapshot(store.store) == before


def test_one_bad_file_in_a_folder_refuses_the_whole_folder(store, logs, tmp_path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(logs["success"], folder / "a-good.eval")
    shutil.copy(logs["json"], folder / "b-good.json")
    (folder / "c-bad.eval").write_bytes(logs["success"].read_bytes()[:500])
    before = snapshot(store.store)
    with pytest.raises(ImportRefused, match=r"c-bad\.eval"):
        imp(store.store, folder)
    assert snapshot(store.store) == before


def test_same_run_twice_with_different_content_is_refused(store, logs, tmp_path) -> None:
    folder = tmp_path / "both"
    folder.mkdir()
    shutil.copy(logs["success"], folder / "a.eval")
    shutil.copy(logs["started"], folder / "b.eval")
    before = snapshot(store.store)
    with pytest.raises(ImportRefused, match="appears twice"):
        imp(store.store, folder)
    assert snapshot(store.store) == before


def test_empty_folder_is_refused(store, tmp_path) -> None:
    with pytest.raises(ImportRefused, match=r"no \.eval or \.json Inspect logs"):
        imp(store.store, tmp_path)


def test_score_values_map_and_keep_what_was_logged() -> None:
    assert [score_number(v) for v in ("C", "I", "P", "N")] == [1.0, 0.0, 0.5, 0.0]
    assert [score_number(v) for v in (True, False, 3, 0.25, "0.75")] == [1.0, 0.0, 3.0, 0.25, 0.75]
    assert [score_number(v) for v in ("maybe", {"a": 1}, [1], None, float("nan"))] == [None] * 5
    assert [score_text(v) for v in ("C", 1.0, True, {"b": 2, "a": 1}, None)] == [
        "C",
        "1.0",
        "true",
        '{"a": 1, "b": 2}',
        None,
    ]


def test_zip_checks_run_before_inspect_reads(tmp_path) -> None:
    # A member named with a Windows drive is as unsafe as '..'.
    path = _zip(tmp_path / "drive.eval", {"header.json": b"{}", "C:/x.json": b"{}"})
    store = Store(tmp_path / "s.duckdb")
    with pytest.raises(ImportRefused, match="unsafe path"):
        imp(store, path)
    store.close()
