"""Viewer-scoped evaluation queries on real stores: markings (across every evaluation read), filters, frontier
and thresholds. Comparisons are in test_comparisons.py, run detail in test_runs.py."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.access.viewer import AccessDenied
from analytics.evals import charts as eval_charts
from analytics.evals import comparisons
from analytics.evals import queries as evals
from analytics.evals import runs as eval_runs
from analytics.filters import Filters
from analytics.ingest.epoch import import_epoch
from analytics.store.audit import opaque_id
from tests.analytics.evals.samples import right_first as _samples
from tests.conftest import ADMIN, AU_ANALYST, SHARED_DATA, TODAY, UK_ANALYST, UK_LEAD, UK_POLICY

ALL = Filters()


# -- markings -------------------------------------------------------------------------------------------------


@pytest.fixture
def marked(store):
    """Two benchmarks; one run visible to UK only (AMBER+STRICT), one public, one shared."""
    store.eval_run(run_id="shared", benchmark="Cybench", model="A", score=0.4, tlp="GREEN")
    store.eval_run(
        run_id="uk-strict",
        benchmark="Cybench",
        model="B",
        score=0.9,
        tlp="AMBER+STRICT",
        releasable_to=["UK"],
        samples=_samples("s", 9, 10),
        n_samples=10,
    )
    store.eval_run(
        run_id="uk-only-bench",
        benchmark="Secret range",
        model="B",
        score=0.7,
        tlp="AMBER",
        releasable_to=["UK"],
    )
    store.eval_run(
        run_id="epoch:x",
        institute="PUBLIC",
        source="epoch",
        benchmark="Cybench",
        model="C",
        score=0.6,
        tlp="CLEAR",
        eval_date=None,
    )
    return store


def test_au_analyst_sees_nothing_of_uk_only_runs(marked) -> None:
    con = marked.cursor()
    uk = evals.benchmark_summary(con, UK_ANALYST, ALL, TODAY)
    au = evals.benchmark_summary(con, AU_ANALYST, ALL, TODAY)
    assert dict(zip(uk.data["benchmark"], uk.data["runs"], strict=True)) == {"Cybench": 3, "Secret range": 1}
    assert dict(zip(au.data["benchmark"], au.data["runs"], strict=True)) == {"Cybench": 2}
    assert (uk.marking.tlp, uk.marking.releasable_to) == ("AMBER+STRICT", ("UK",))
    assert (au.marking.tlp, au.marking.releasable_to) == ("GREEN", ("AU", "UK"))
    cap = evals.capability_over_time(con, AU_ANALYST, ALL, TODAY, "Cybench")
    assert sorted(cap.data.points["run_id"]) == ["epoch:x", "shared"]
    assert cap.data.frontier["best"].max() == 0.6  # the invisible 0.9 does not lift the frontier
    assert comparisons.model_options(con, AU_ANALYST, ALL, TODAY) == [("A", 1), ("C", 1)]
    assert eval_runs.run_detail(con, AU_ANALYST, "uk-strict") is None
    assert eval_runs.run_detail(con, AU_ANALYST, "no-such-run") is None
    assert eval_runs.sample_page(con, AU_ANALYST, "uk-strict", 0).data.empty
    cmp = comparisons.compare_models(con, AU_ANALYST, ALL, TODAY, ("A", "B", "C"))
    assert sorted(cmp.data.scores["model"]) == ["A", "C"]
    assert evals.threshold_for(con, AU_ANALYST, "Secret range") is None
    assert eval_runs.runs_of_benchmark(con, AU_ANALYST, ALL, TODAY, "Secret range").data.empty


def test_thresholds_on_invisible_benchmarks_behave_as_missing(marked) -> None:
    with marked.store.transaction() as con:
        evals.set_threshold(con, UK_ANALYST, "Secret range", 0.5, "UK line")
    con = marked.cursor()
    assert evals.threshold_for(con, UK_ANALYST, "Secret range").threshold == 0.5
    assert evals.threshold_for(con, AU_ANALYST, "Secret range") is None
    with pytest.raises(ValueError, match="no such benchmark"), marked.store.transaction() as tx:
        evals.set_threshold(tx, AU_ANALYST, "Secret range", 0.1)
    with marked.store.transaction() as tx:
        assert evals.clear_threshold(tx, AU_ANALYST, "Secret range") is False
    assert evals.threshold_for(con, UK_ANALYST, "Secret range").threshold == 0.5


def test_filters_that_apply_to_runs(marked) -> None:
    con = marked.cursor()
    uk_only = Filters(originators=("UK",))
    assert sorted(
        evals.capability_over_time(con, UK_ANALYST, uk_only, TODAY, "Cybench").data.points["run_id"]
    ) == [
        "shared",
        "uk-strict",
    ]
    green = Filters(tlps=("GREEN",))
    assert evals.capability_over_time(con, UK_ANALYST, green, TODAY, "Cybench").data.points[
        "run_id"
    ].tolist() == ["shared"]
    # a period filters on the evaluation date: the public run has none and drops out
    period = Filters().with_dates(date(2025, 1, 1), date(2025, 12, 31))
    assert sorted(
        evals.capability_over_time(con, UK_ANALYST, period, TODAY, "Cybench").data.points["run_id"]
    ) == [
        "shared",
        "uk-strict",
    ]
    later = Filters().with_dates(date(2026, 1, 1), date(2026, 12, 31))
    assert evals.capability_over_time(con, UK_ANALYST, later, TODAY, "Cybench").data.points.empty


# -- capability and frontier ----------------------------------------------------------------------------------


def test_frontier_is_the_best_score_released_so_far(store) -> None:
    for k, (rel, score) in enumerate(
        [
            ((2024, 1, 1), 0.2),
            ((2024, 6, 1), 0.5),
            ((2024, 9, 1), 0.4),
            ((2025, 2, 1), 0.7),
            ((2025, 3, 1), 0.1),
        ]
    ):
        store.eval_run(run_id=f"r{k}", model=f"M{k}", model_release_date=date(*rel), score=score, stderr=0.1)
    store.eval_run(run_id="undated", model="U", model_release_date=None, score=0.99)
    store.eval_run(
        run_id="failed", model="F", status="error", score=None, model_release_date=date(2025, 4, 1)
    )
    cap = evals.capability_over_time(store.cursor(), UK_ANALYST, ALL, TODAY, "Cybench").data
    assert cap.frontier["best"].tolist() == [0.2, 0.5, 0.5, 0.7, 0.7]
    assert cap.points["on_frontier"].tolist() == [True, True, False, True, False]
    assert cap.undated == 1
    assert "failed" not in cap.points["run_id"].tolist()
    first = cap.points.iloc[0]
    assert (first["ci_low"], first["ci_high"]) == pytest.approx((0.2 - 0.196, 0.2 + 0.196), abs=1e-4)
    # shares of tasks are clipped to [0, 1]
    low = cap.points[cap.points["run_id"] == "r4"].iloc[0]
    assert low["ci_low"] == 0.0


def test_institute_accuracy_and_epoch_mean_score_are_separate_frontiers(store) -> None:
    """One benchmark, two measurements: the institute's accuracy (task version 1) and Epoch's mean_score. One
    best-so-far line through both put an institute 0.7 on Epoch's line (6 of 13 SWE-bench Verified frontier
    steps in the demo); each gets its own line, and a point is 'on the frontier' of its own line only."""
    store.eval_run(run_id="inst", model="I1", model_release_date=date(2024, 1, 1), score=0.7)
    store.eval_run(run_id="inst2", model="I2", model_release_date=date(2024, 9, 1), score=0.6)
    for k, (rel, score) in enumerate([((2024, 3, 1), 0.4), ((2024, 6, 1), 0.5), ((2024, 8, 1), 0.45)]):
        store.eval_run(
            run_id=f"epoch:{k}",
            model=f"E{k}",
            institute="PUBLIC",
            source="epoch",
            metric="mean_score",
            task_version=None,
            model_release_date=date(*rel),
            score=score,
            tlp="CLEAR",
        )
    cap = evals.capability_over_time(store.cursor(), UK_ANALYST, ALL, TODAY, "Cybench").data
    lines = {line: sub for line, sub in cap.frontier.groupby("line")}
    assert set(lines) == {"epoch · mean_score", "institute · accuracy · v1"}
    assert lines["epoch · mean_score"]["best"].tolist() == [0.4, 0.5, 0.5]
    assert lines["institute · accuracy · v1"]["best"].tolist() == [0.7, 0.7]
    on = dict(zip(cap.points["run_id"], cap.points["on_frontier"], strict=True))
    assert on == {"inst": True, "epoch:0": True, "epoch:1": True, "epoch:2": False, "inst2": False}


def test_task_versions_are_separate_frontiers(store) -> None:
    store.eval_run(model="A", task_version="1", score=0.8, model_release_date=date(2024, 1, 1))
    store.eval_run(model="B", task_version="2", score=0.3, model_release_date=date(2024, 6, 1))
    cap = evals.capability_over_time(store.cursor(), UK_ANALYST, ALL, TODAY, "Cybench").data
    assert dict(zip(cap.frontier["line"], cap.frontier["best"], strict=True)) == {
        "institute · accuracy · v1": 0.8,
        "institute · accuracy · v2": 0.3,
    }


def test_best_of_n_results_are_marked(store) -> None:
    store.eval_run(run_id="single", model="S", metric="accuracy")
    store.eval_run(run_id="pass1", model="P1", metric="Pass@1 score")
    store.eval_run(run_id="pass5", model="P5", metric="pass@5")
    store.eval_run(run_id="avg5", model="A5", metric="Score (AVG@5)")
    store.eval_run(
        run_id="epoch:best3",
        model="E",
        institute="PUBLIC",
        source="epoch",
        metric="mean_score",
        tlp="CLEAR",
        details='{"rows_for_model": 3}',
    )
    store.eval_run(
        run_id="epoch:one",
        model="E1",
        institute="PUBLIC",
        source="epoch",
        tlp="CLEAR",
        details='{"rows_for_model": 1}',
    )
    cap = evals.capability_over_time(store.cursor(), UK_ANALYST, ALL, TODAY, "Cybench").data
    best_of = {
        r: (b if isinstance(b, str) else None)
        for r, b in zip(cap.points["run_id"], cap.points["best_of"], strict=True)
    }
    assert best_of == {
        "single": None,
        "pass1": None,
        "pass5": "best of 5 attempts (pass@5)",
        "avg5": None,
        "epoch:best3": "best of 3 reported results",
        "epoch:one": None,
    }


def test_frontier_by_evaluation_date(store) -> None:
    store.eval_run(
        run_id="old", model="Old", model_release_date=date(2023, 1, 1), eval_date=date(2025, 3, 1), score=0.9
    )
    store.eval_run(
        run_id="new", model="New", model_release_date=date(2024, 1, 1), eval_date=date(2024, 2, 1), score=0.6
    )
    store.eval_run(run_id="no-eval-date", model="N", eval_date=None, score=0.99)
    by_release = evals.capability_over_time(store.cursor(), UK_ANALYST, ALL, TODAY, "Cybench").data
    assert by_release.frontier["best"].tolist() == [0.9, 0.9, 0.99]
    by_eval = evals.capability_over_time(
        store.cursor(), UK_ANALYST, ALL, TODAY, "Cybench", by="evaluation"
    ).data
    assert by_eval.by == "evaluation"
    assert [d.date() for d in by_eval.frontier["x"]] == [date(2024, 2, 1), date(2025, 3, 1)]
    assert by_eval.frontier["best"].tolist() == [0.6, 0.9]
    assert by_eval.undated == 1
    with pytest.raises(ValueError, match="no such date to draw by"):
        evals.capability_over_time(store.cursor(), UK_ANALYST, ALL, TODAY, "Cybench", by="model_name")


def test_real_epoch_swe_bench_and_institute_runs_draw_separate_marked_frontiers(store) -> None:
    """The real Epoch SWE-bench Verified export beside an institute run: two lines; Epoch's two models with two
    reported rows each are marked best-of-2."""
    import_epoch(
        store.store, SHARED_DATA / "epoch-benchmarks" / "swe_bench_verified.csv", actor="analyst@uk.example"
    )
    store.eval_run(
        benchmark="SWE-bench Verified", model="Inst", score=0.99, model_release_date=date(2024, 1, 1)
    )
    cap = evals.capability_over_time(store.cursor(), UK_ANALYST, ALL, TODAY, "SWE-bench Verified").data
    assert set(cap.frontier["line"]) == {"epoch · mean_score", "institute · accuracy · v1"}
    epoch_line = cap.frontier[cap.frontier["line"] == "epoch · mean_score"]
    assert epoch_line["best"].max() < 0.99  # the institute's 0.99 does not lift Epoch's line
    marked = cap.points[cap.points["best_of"].notna()]
    assert len(marked) == 2 and set(marked["best_of"]) == {"best of 2 reported results"}
    fig = eval_charts.capability_chart(cap.points, cap.frontier, "SWE-bench Verified", cap.unit)
    names = [t.name for t in fig.data if t.mode == "lines"]
    assert names == ["Frontier: epoch · mean_score", "Frontier: institute · accuracy · v1"]
    hollow = [s for t in fig.data if t.mode == "markers" for s in t.marker.symbol if s.endswith("-open")]
    assert len(hollow) == 2


# -- thresholds -----------------------------------------------------------------------------------------------


def test_threshold_set_audited_and_crossings(store) -> None:
    runs = [
        ("Northwind AI", "N1", date(2024, 1, 1), 0.3),
        ("Northwind AI", "N2", date(2024, 8, 1), 0.62),
        ("Northwind AI", "N3", date(2025, 3, 1), 0.8),
        ("Meridian Labs", "M1", date(2024, 5, 1), 0.4),
        ("Meridian Labs", "M2", date(2025, 1, 1), 0.65),
    ]
    for dev, model, rel, score in runs:
        store.eval_run(model=model, model_developer=dev, model_release_date=rel, score=score)
    with store.store.transaction() as con:
        evals.set_threshold(con, UK_ANALYST, "Cybench", 0.5, "uplift line")
    with store.store.transaction() as con:
        evals.set_threshold(con, UK_LEAD, "Cybench", 0.6)
    con = store.cursor()
    t = evals.threshold_for(con, AU_ANALYST, "Cybench")
    assert (t.threshold, t.set_by, t.set_by_institute, t.note) == (0.6, "lead@uk.example", "UK", None)
    audit = con.execute(
        "select email, action, object, detail from audit_log where action like 'eval threshold%' order by id"
    ).fetchall()
    # the log names the benchmark by an opaque id and says whether a note was given, never the name or note
    bench = "benchmark:" + opaque_id("cybench")
    assert audit == [
        ("analyst@uk.example", "eval threshold set", bench, '{"new": 0.5, "note_set": true, "old": null}'),
        ("lead@uk.example", "eval threshold set", bench, '{"new": 0.6, "note_set": false, "old": 0.5}'),
    ]
    crossing = evals.threshold_crossings(con, AU_ANALYST, ALL, TODAY, "Cybench", 0.6).data
    assert crossing.models["model"].tolist() == ["N2", "M2", "N3"]
    first = crossing.first_by_developer
    assert first[["developer", "first_model"]].values.tolist() == [
        ["Northwind AI", "N2"],
        ["Meridian Labs", "M2"],
    ]
    assert [d.date() for d in first["first_crossed"]] == [date(2024, 8, 1), date(2025, 1, 1)]
    with store.store.transaction() as tx:
        assert evals.clear_threshold(tx, AU_ANALYST, "Cybench") is True
    assert evals.threshold_for(store.cursor(), UK_ANALYST, "Cybench") is None
    last = (
        store.cursor()
        .execute("select email, action, detail from audit_log order by id desc limit 1")
        .fetchone()
    )
    assert last == ("analyst@au.example", "eval threshold cleared", '{"old": 0.6}')


@pytest.mark.parametrize("viewer", [UK_POLICY, ADMIN])
def test_only_analysts_and_leads_set_thresholds(store, viewer) -> None:
    store.eval_run()
    with pytest.raises(AccessDenied), store.store.transaction() as con:
        evals.set_threshold(con, viewer, "Cybench", 0.5)
    assert store.cursor().execute("select count(*) from eval_thresholds").fetchone() == (0,)


def test_threshold_must_be_a_number(store) -> None:
    store.eval_run()
    with pytest.raises(ValueError, match="finite"), store.store.transaction() as con:
        evals.set_threshold(con, UK_ANALYST, "Cybench", float("nan"))
