"""Comparing evaluation results on real stores: paired tests on shared samples, the bootstrap for partial
credit, too few samples, the model cap, and UK–AU agreement over runs the viewer may see."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.evals import comparisons
from analytics.filters import Filters
from tests.analytics.evals.samples import right_first as _samples
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST

ALL = Filters()


# -- comparison -----------------------------------------------------------------------------------------------


def test_paired_comparison_on_shared_samples(store) -> None:
    """A and B answer the same 400 samples: B is right on the first 200, A on those and 16 more. McNemar: 16
    discordant pairs all for A, p = 2 * 0.5**16. C has only a score and stderr: unpaired z-tests."""
    store.eval_run(
        run_id="a", model="A", score=0.54, stderr=0.0249, samples=_samples("q", 216, 400), n_samples=400
    )
    store.eval_run(
        run_id="b", model="B", score=0.50, stderr=0.025, samples=_samples("q", 200, 400), n_samples=400
    )
    store.eval_run(run_id="c", model="C", score=0.45, stderr=0.025)
    store.eval_run(run_id="a-old", model="A", score=0.1, eval_date=date(2024, 1, 1))  # not chosen: no samples
    store.eval_run(run_id="other", model="A", benchmark="GPQA", score=0.3)  # only A: not compared
    res = comparisons.compare_models(store.cursor(), UK_ANALYST, ALL, TODAY, ("A", "B", "C"))
    scores = res.data.scores.set_index("model")
    assert scores.loc["A", "run_id"] == "a"
    assert res.data.single == ["GPQA"]
    pairs = {(r.model_a, r.model_b): r for r in res.data.pairs.itertuples()}
    ab = pairs[("A", "B")]
    assert (ab.test, ab.n_paired) == ("McNemar exact", 400)
    assert ab.diff == pytest.approx(0.04)
    assert ab.p == pytest.approx(2 * 0.5**16)
    assert ab.p_holm == pytest.approx(3 * 2 * 0.5**16)  # smallest of three p-values, times three
    assert ab.verdict == "real difference: A higher"
    ac = pairs[("A", "C")]
    assert ac.test == "z-test (unpaired)"
    assert ac.n_paired == 0
    bc = pairs[("B", "C")]
    assert bc.verdict == "no clear difference"
    assert res.marking.rows == 3


def test_partial_credit_pairs_use_the_bootstrap(store) -> None:
    a = {f"q{k:03d}": (0.5 if k < 60 else 1.0 if k < 90 else 0.0) for k in range(200)}
    b = {f"q{k:03d}": (0.0 if k < 60 else 1.0 if k < 90 else 0.0) for k in range(200)}
    store.eval_run(run_id="a", model="A", samples=a, n_samples=200)
    store.eval_run(run_id="b", model="B", samples=b, n_samples=200)
    pair = comparisons.compare_models(store.cursor(), UK_ANALYST, ALL, TODAY, ("A", "B")).data.pairs.iloc[0]
    assert pair["test"] == "paired bootstrap"
    assert pair["n_paired"] == 200
    assert pair["diff"] == pytest.approx(60 * 0.5 / 200)
    assert pair["verdict"] == "real difference: A higher"


def test_too_few_shared_samples_are_not_tested(store) -> None:
    store.eval_run(run_id="a", model="A", samples=_samples("q", 3, 5), n_samples=5, stderr=None)
    store.eval_run(run_id="b", model="B", samples=_samples("q", 2, 5), n_samples=5, stderr=None)
    pair = comparisons.compare_models(store.cursor(), UK_ANALYST, ALL, TODAY, ("A", "B")).data.pairs.iloc[0]
    assert pair["verdict"] == "too few shared samples (5): cannot test"


def test_at_most_five_models_are_compared(store) -> None:
    for k in range(7):
        store.eval_run(model=f"M{k}", score=0.1 * k)
    res = comparisons.compare_models(store.cursor(), UK_ANALYST, ALL, TODAY, tuple(f"M{k}" for k in range(7)))
    assert sorted(res.data.scores["model"]) == ["M0", "M1", "M2", "M3", "M4"]
    assert len(res.data.pairs) == 10


# -- agreement ------------------------------------------------------------------------------------------------


def test_agreement_flags_planted_disagreements(store) -> None:
    plant = [
        # model, UK (score, se), AU (score, se), expected status
        ("Agree", (0.60, 0.02), (0.62, 0.02), "agree"),
        ("Disagree", (0.80, 0.02), (0.50, 0.02), "disagree"),
        ("Check", (0.60, 0.02), (0.66, 0.02), "check"),  # overlap (0.639 > 0.621) but z = 2.12
        ("Unknown", (0.60, None), (0.70, 0.02), "no interval"),
    ]
    for model, (us, ue), (as_, ae), _ in plant:
        store.eval_run(model=model, institute="UK", score=us, stderr=ue)
        store.eval_run(model=model, institute="AU", score=as_, stderr=ae)
    store.eval_run(model="UK only", institute="UK")
    store.eval_run(model="Agree", institute="AU", task_version="2", score=0.1)  # other task version: no pair
    df = comparisons.institute_agreement(store.cursor(), AU_ANALYST, ALL, TODAY).data.set_index("model")
    assert sorted(df.index) == ["Agree", "Check", "Disagree", "Unknown"]
    for model, _, _, status in plant:
        assert df.loc[model, "status"] == status, model
    assert df.loc["Disagree", "difference"] == pytest.approx(0.30)
    assert not df.loc["Disagree", "overlap"]
    assert df.loc["Check", "overlap"]
    assert df.loc["Check", "p_value"] == pytest.approx(0.0339, abs=1e-3)


def test_agreement_uses_only_runs_the_viewer_may_see(store) -> None:
    store.eval_run(model="X", institute="UK", score=0.9, tlp="AMBER+STRICT", releasable_to=["UK"])
    store.eval_run(model="X", institute="AU", score=0.1, tlp="AMBER+STRICT", releasable_to=["AU"])
    assert comparisons.institute_agreement(store.cursor(), UK_ANALYST, ALL, TODAY).data.empty
    assert comparisons.institute_agreement(store.cursor(), AU_ANALYST, ALL, TODAY).data.empty
