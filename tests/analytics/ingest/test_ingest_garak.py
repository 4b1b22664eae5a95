"""garak importer against the real reports and calibration files in ../shared/data/garak: runs per probe x
detector with the pass rate and samples read back from the report.jsonl lines, calibration sigma kept as a
spread (never a standard error), garak's timestamp variants, idempotence, PUBLIC origin, the credit, and a
malformed report refused naming file, line and field with the store unchanged."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics.evals.runs import run_detail
from analytics.ingest import ImportRefused
from analytics.ingest.garak import CALIBRATION_MODEL, import_garak, parse_garak_time
from analytics.sources import GARAK, source_credits
from tests.conftest import SHARED_DATA, UK_ANALYST

GARAK_DATA = SHARED_DATA / "garak"
REPORT = GARAK_DATA / "reports" / "report_test.report.jsonl"
pytestmark = pytest.mark.skipif(not GARAK_DATA.exists(), reason="needs ../shared/data/garak")

TABLES = ("eval_runs", "eval_samples", "import_batches", "audit_log")


def _entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _snapshot(store: Any) -> dict[str, list[str]]:
    con = store.cursor()
    return {t: sorted(map(repr, con.execute(f"select * from {t}").fetchall())) for t in TABLES}


def test_one_run_per_probe_and_detector_with_the_pass_rate(store) -> None:
    report = import_garak(store.store, GARAK_DATA / "reports", actor="analyst@au.example", institute="AU")
    con = store.cursor()
    expected = 0
    for f in sorted((GARAK_DATA / "reports").glob("*.report.jsonl")):
        entries = _entries(f)
        init = next(e for e in entries if e["entry_type"] == "init")
        setup = next(e for e in entries if e["entry_type"] == "start_run setup")
        for ev in (e for e in entries if e["entry_type"] == "eval"):
            expected += 1
            rid = f"garak-{init['run']}-{ev['probe']}-{ev['detector']}"
            got = con.execute(
                "select model, benchmark, metric, score, n_samples, eval_date, institute, tlp, releasable_to, "
                "stderr from eval_runs where run_id = ?",
                [rid],
            ).fetchone()
            assert got is not None, rid
            model = setup.get("plugins.target_name") or setup["plugins.target_type"]
            assert got[0] == model
            assert got[1] == f"garak {ev['probe']} / {ev['detector']}" and got[2] == "pass rate"
            assert got[3] == pytest.approx(ev["passed"] / ev["total_evaluated"])
            assert got[4] == ev["total_evaluated"]
            assert got[5] == datetime.fromisoformat(init["start_time"]).date()
            assert got[6:9] == ("PUBLIC", "CLEAR", ["AU", "UK"]) and got[9] is None
    assert report.added == expected == 4
    assert ("import garak", report.batch_id) in con.execute("select action, object from audit_log").fetchall()


def test_each_scored_output_is_a_sample_with_prompt_output_and_detector_score(store) -> None:
    import_garak(store.store, REPORT, actor="test")
    entries = _entries(REPORT)
    run = next(e["run"] for e in entries if e["entry_type"] == "init")
    scored = [e for e in entries if e["entry_type"] == "attempt" and e["status"] == 2]
    assert scored
    con = store.cursor()
    for a in scored:
        for detector, scores in a["detector_results"].items():
            for k, s in enumerate(scores):
                got = con.execute(
                    "select score, value, input, output, target, metadata->>'detector_score' from eval_samples "
                    "where run_id = ? and sample_id = ? and epoch = ?",
                    [f"garak-{run}-{a['probe_classname']}-{detector}", str(a["seq"]), k + 1],
                ).fetchone()
                assert got is not None
                assert got[0] == (1.0 if s < 0.5 else 0.0) and got[1] == ("pass" if s < 0.5 else "fail")
                assert got[2] == a["prompt"]["turns"][0]["content"]["text"]
                assert got[3] == a["outputs"][k]["text"] and got[4] == a["goal"]
                assert float(got[5]) == s
    n = con.execute("select count(*) from eval_samples").fetchone()[0]
    assert n == sum(len(v) for a in scored for v in a["detector_results"].values())


def test_calibration_mu_is_the_score_and_sigma_a_spread_not_a_stderr(store) -> None:
    report = import_garak(store.store, GARAK_DATA / "calibration", actor="test")
    cal = json.loads((GARAK_DATA / "calibration" / "calibration-2026-02.json").read_text())
    meta = cal.pop("garak_calibration_meta")
    con = store.cursor()
    for key, entry in cal.items():
        probe, detector = key.split("/", 1)
        got = con.execute(
            "select model, score, stderr, n_samples, eval_date, (details->>'bag_sigma')::double, "
            "details->>'kind' from eval_runs where run_id = ?",
            [f"garak-calibration-2026-02-{probe}-{detector}"],
        ).fetchone()
        assert got is not None, key
        assert got[0] == CALIBRATION_MODEL and got[1] == pytest.approx(entry["mu"])
        assert got[2] is None and got[3] is None  # sigma never becomes an error bar
        assert got[5] == pytest.approx(entry["sigma"]) and got[6] == "calibration"
        assert got[4] == date(2026, 2, 2)  # garak_calibration_meta.date, '2026-02-02 20:25:31...+00:00Z'
    assert meta["date"].endswith("+00:00Z")
    assert any("calibration.json" in w and "pointer" in w for w in report.warnings)
    files = [f for f in (GARAK_DATA / "calibration").glob("calibration-*.json")]
    expected = sum(len(json.loads(f.read_text())) - 1 for f in files)
    assert report.added == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-10-02 10:37:26.511331+00:00Z", datetime(2024, 10, 2, 10, 37, 26, 511331, tzinfo=UTC)),
        ("2025-08-28T14:06:53.103753", datetime(2025, 8, 28, 14, 6, 53, 103753, tzinfo=UTC)),
        ("2025-08-28T14:06:53Z", datetime(2025, 8, 28, 14, 6, 53, tzinfo=UTC)),
        ("2025-08-28 23:30:00-02:00", datetime(2025, 8, 29, 1, 30, tzinfo=UTC)),
    ],
)
def test_garak_timestamps_are_read(raw: str, expected: datetime) -> None:
    assert parse_garak_time(raw, "x") == expected


def test_second_import_changes_nothing(store) -> None:
    import_garak(store.store, GARAK_DATA, actor="test")
    before = _snapshot(store)
    again = import_garak(store.store, GARAK_DATA, actor="test")
    assert again.added == 0 and again.updated == 0 and again.unchanged > 0
    after = _snapshot(store)
    assert after["eval_runs"] == before["eval_runs"] and after["eval_samples"] == before["eval_samples"]


def test_credit_comes_through_source_credits(store) -> None:
    import_garak(store.store, REPORT, actor="test")
    rid = store.cursor().execute("select run_id from eval_runs").fetchone()[0]
    detail = run_detail(store.cursor(), UK_ANALYST, rid)
    assert detail is not None and "garak" in detail.marking.sources
    assert source_credits(detail.marking) == (GARAK.credit,)


@pytest.mark.parametrize(
    ("entry_type", "field", "value", "named"),
    [
        ("eval", "passed", "eight", "field 'passed'"),
        ("eval", "total_evaluated", None, "field 'total_evaluated'"),
        ("init", "start_time", "yesterday", "field 'init.start_time'"),
        ("attempt", "detector_results", {"always.Pass": ["high"]}, "field 'detector_results.always.Pass[0]'"),
    ],
)
def test_malformed_report_refused_naming_file_line_and_field(
    store, tmp_path: Path, entry_type: str, field: str, value: Any, named: str
) -> None:
    lines = REPORT.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        entry = json.loads(line)
        if entry["entry_type"] == entry_type and entry.get("status", 2) == 2:
            entry[field] = value
            if value is None:
                entry.pop(field)
                entry.pop("total", None)
            lines[n] = json.dumps(entry)
            break
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copy(GARAK_DATA / "reports" / "test.report.jsonl", folder / "good.report.jsonl")
    (folder / "bad.report.jsonl").write_text("\n".join(lines) + "\n")
    before = _snapshot(store)
    with pytest.raises(ImportRefused) as e:
        import_garak(store.store, folder, actor="test")
    msg = str(e.value)
    assert "\n" not in msg and "bad.report.jsonl" in msg and named in msg
    if entry_type != "init":
        assert f"line {n + 1}" in msg
    assert _snapshot(store) == before


def test_report_without_setup_refused(store, tmp_path: Path) -> None:
    f = tmp_path / "x.report.jsonl"
    f.write_text(
        json.dumps({"entry_type": "eval", "probe": "a.B", "detector": "c.D", "passed": 1, "total": 1})
    )
    with pytest.raises(ImportRefused, match=r"x\.report\.jsonl, field 'entry_type': no 'start_run setup'"):
        import_garak(store.store, f, actor="test")


def test_a_report_in_the_older_layout_imports_the_same_way(store, tmp_path: Path) -> None:
    """Before 0.14 garak wrote plugins.model_type/model_name, string prompts and outputs, `total` instead of
    `total_evaluated` and plugin names with their package prefix; its start time with a doubled zone."""
    entries = [
        {"entry_type": "start_run setup", "plugins.model_type": "openai", "plugins.model_name": "gpt-3.5-turbo",
         "transient.starttime_iso": "2024-10-02T10:37:26.511331", "run.eval_threshold": 0.5},
        {"entry_type": "init", "garak_version": "0.9.0.14", "start_time": "2024-10-02 10:37:26.511331+00:00Z",
         "run": "old-run"},
        *({"entry_type": "attempt", "status": 2, "seq": k, "uuid": f"u{k}", "probe_classname": "dan.Dan_11_0",
           "prompt": f"prompt {k}", "outputs": [f"out {k}a", f"out {k}b"],
           "detector_results": {"dan.DAN": [0.0, 1.0 if k == 1 else 0.2]}} for k in range(3)),
        {"entry_type": "eval", "probe": "probes.dan.Dan_11_0", "detector": "detector.dan.DAN", "passed": 5,
         "total": 6},
    ]  # fmt: skip
    f = tmp_path / "old.report.jsonl"
    f.write_text("".join(json.dumps(e) + "\n" for e in entries))
    report = import_garak(store.store, f, actor="test")
    assert report.added == 1
    con = store.cursor()
    run = con.execute(
        "select run_id, model, benchmark, score, n_samples, eval_date from eval_runs"
    ).fetchone()
    assert run == ("garak-old-run-dan.Dan_11_0-dan.DAN", "gpt-3.5-turbo", "garak dan.Dan_11_0 / dan.DAN",
                   pytest.approx(5 / 6), 6, date(2024, 10, 2))  # fmt: skip
    samples = con.execute(
        "select sample_id, epoch, score, input, output from eval_samples order by sample_id, epoch"
    ).fetchall()
    assert len(samples) == 6 and sum(s[2] for s in samples) == 5
    assert samples[3] == ("1", 2, 0.0, "prompt 1", "out 1b")


# -- through the generic mapping (issue 16: `import jsonl --records eval_runs --map/--set/--source`) -------------


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="the generic mapping copies values, it computes none: garak's pass rate is passed / total_evaluated "
    "and its benchmark joins probe and detector, so `import jsonl --map` stores the count of passes as the score "
    "and the detector alone as the benchmark; `import garak` is the way in for garak reports",
)
def test_generic_mapping_gives_the_same_runs(store, tmp_path: Path, capsys) -> None:
    from analytics.cli import main
    from analytics.store.database import Store

    import_garak(store.store, REPORT, actor="test")
    setup = next(e for e in _entries(REPORT) if e["entry_type"] == "start_run setup")
    db = tmp_path / "generic.duckdb"
    code = main(
        [
            "import", "jsonl", str(REPORT), "--db", str(db), "--create", "--records", "eval_runs",
            "--source", "garak", "--only-valid",  # the eval lines; setup, init and attempt lines are rejected
            "--map", "detector=benchmark", "--map", "passed=score", "--map", "total_evaluated=n_samples",
            "--set", f"model={setup['plugins.target_name']}", "--set", "metric=pass rate",
        ]
    )  # fmt: skip
    capsys.readouterr()
    sql = "select model, benchmark, metric, score, n_samples, institute, source, tlp from eval_runs"
    dedicated = store.cursor().execute(sql).fetchall()
    other = Store(db)
    try:
        generic = other.cursor().execute(sql).fetchall()
    finally:
        other.close()
    assert code == 0 and len(generic) == len(dedicated) == 1
    assert generic == dedicated
