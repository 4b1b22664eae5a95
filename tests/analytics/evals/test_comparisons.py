"""Comparing evaluation results on real stores: paired tests only on the same task version, sample and epoch,
the sign-flip test for partial credit, too few samples, the model cap, Holm across the page, and UK–AU
agreement (paired where samples are shared, Benjamini-Hochberg across the table) over runs the viewer may
see."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.evals import comparisons
from analytics.filters import Filters
from analytics.stats import eval_stats
from tests.analytics.evals.samples import right_first as _samples
from tests.analytics.stats.test_eval_stats import binom_two_sided
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
    assert (ab.test, ab.n_paired, ab.paired) == ("McNemar exact", 400, True)
    assert ab.pairing == "paired on 400 shared samples"
    assert ab.diff == pytest.approx(0.04)
    assert ab.p == pytest.approx(2 * 0.5**16)
    assert ab.p_holm == pytest.approx(3 * 2 * 0.5**16)  # smallest of three p-values, times three
    assert ab.verdict == "real difference: A higher"
    # the interval is at the Holm level of the smallest p (1 - 0.05/3) and agrees with the verdict
    assert ab.ci_level == pytest.approx(1 - 0.05 / 3)
    assert 0 < ab.ci_low < 0.04 < ab.ci_high
    ac = pairs[("A", "C")]
    assert ac.test == "z-test (unpaired)"
    assert ac.n_paired == 0
    assert (ac.paired, ac.pairing) == (False, "unpaired: a run has no per-sample scores")
    bc = pairs[("B", "C")]
    assert bc.verdict == "no clear difference"
    assert res.marking.rows == 3


def test_two_task_versions_of_a_benchmark_are_not_paired(store) -> None:
    """Version 1 and version 2 of a benchmark reuse sample ids for different questions. Pairing them by id gave
    "McNemar exact, p = 1.9e-8, real difference"; they are compared unpaired, and the result says why."""
    store.eval_run(run_id="a", model="A", task_version="1", samples=_samples("q", 60, 100), n_samples=100)
    store.eval_run(
        run_id="b",
        model="B",
        task_version="2",
        samples=_samples("q", 30, 100),
        n_samples=100,
        score=0.52,
        stderr=0.05,
    )
    pair = comparisons.compare_models(store.cursor(), UK_ANALYST, ALL, TODAY, ("A", "B")).data.pairs.iloc[0]
    assert pair["n_paired"] == 0
    assert not pair["paired"]
    assert pair["test"] == "z-test (unpaired)"
    assert pair["pairing"] == "unpaired: task versions differ (1 vs 2), samples not comparable"
    assert pair["verdict"] == "no clear difference"  # 0.5 vs 0.52, standard errors 0.05


def test_epochs_pair_one_to_one_and_a_sample_counts_once(store) -> None:
    """A ran 2 epochs, B one: only epoch 1 is shared, and each sample is one unit of the test."""
    store.eval_run(run_id="a", model="A", samples=_samples("q", 30, 40), n_samples=80)
    with store.store.transaction() as con:  # a second epoch of A, all wrong: it has nothing in B to meet
        con.execute(
            "insert into eval_samples (run_id, sample_id, epoch, score, value) "
            "select run_id, sample_id, 2, 0.0, 'I' from eval_samples where run_id = 'a'"
        )
    store.eval_run(run_id="b", model="B", samples=_samples("q", 20, 40), n_samples=40)
    pair = comparisons.compare_models(store.cursor(), UK_ANALYST, ALL, TODAY, ("A", "B")).data.pairs.iloc[0]
    assert (pair["n_paired"], pair["test"]) == (40, "McNemar exact")
    assert pair["diff"] == pytest.approx(10 / 40)
    assert pair["p"] == pytest.approx(2 * 0.5**10)


def test_partial_credit_pairs_use_the_sign_flip_test(store) -> None:
    a = {f"q{k:03d}": (0.5 if k < 60 else 1.0 if k < 90 else 0.0) for k in range(200)}
    b = {f"q{k:03d}": (0.0 if k < 60 else 1.0 if k < 90 else 0.0) for k in range(200)}
    store.eval_run(run_id="a", model="A", samples=a, n_samples=200)
    store.eval_run(run_id="b", model="B", samples=b, n_samples=200)
    pair = comparisons.compare_models(store.cursor(), UK_ANALYST, ALL, TODAY, ("A", "B")).data.pairs.iloc[0]
    assert pair["test"] == "sign-flip permutation"  # (was the paired bootstrap)
    assert pair["n_paired"] == 200
    assert pair["diff"] == pytest.approx(60 * 0.5 / 200)
    assert pair["verdict"] == "real difference: A higher"
    assert 0 < pair["ci_low"] < pair["diff"] < pair["ci_high"]


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
        ("Overlap", (0.60, 0.02), (0.66, 0.02), "agree"),  # z = 2.12, p = 0.034: not after BH over 4 rows
        ("Unknown", (0.60, None), (0.70, 0.02), "no interval"),
    ]
    for model, (us, ue), (as_, ae), _ in plant:
        store.eval_run(model=model, institute="UK", score=us, stderr=ue)
        store.eval_run(model=model, institute="AU", score=as_, stderr=ae)
    store.eval_run(model="UK only", institute="UK")
    store.eval_run(model="Agree", institute="AU", task_version="2", score=0.1)  # other task version: no pair
    df = comparisons.institute_agreement(store.cursor(), AU_ANALYST, ALL, TODAY).data.set_index("model")
    assert sorted(df.index) == ["Agree", "Disagree", "Overlap", "Unknown"]
    for model, _, _, status in plant:
        assert df.loc[model, "status"] == status, model
    assert df.loc["Disagree", "difference"] == pytest.approx(0.30)
    assert not df.loc["Disagree", "overlap"]
    assert df.loc["Overlap", "overlap"]
    assert df.loc["Overlap", "p_value"] == pytest.approx(0.0339, abs=1e-3)
    # Benjamini-Hochberg over the three tested rows: 0.034 is the 2nd smallest, 0.034 * 3 / 2 = 0.051
    assert df.loc["Overlap", "p_adjusted"] == pytest.approx(0.0339 * 3 / 2, abs=2e-3)
    assert df.loc["Overlap", "ci_low"] <= 0 <= df.loc["Overlap", "ci_high"]  # agrees with "agree"
    assert df.loc["Disagree", "ci_low"] > 0
    assert not df["paired"].any()
    assert set(df["test"].dropna()) == {"z-test (unpaired)"}


def test_agreement_is_paired_when_the_runs_share_samples(store) -> None:
    """UK and AU ran the same 200 samples: UK got 28 right that AU missed, AU 8 that UK missed (0.55 vs 0.45).
    Unpaired, standard errors of 0.04 give z = 1.77, p = 0.077: nothing to see. Paired, 28 to 8 discordant
    pairs is McNemar p = 0.0011: a disagreement to follow up."""
    uk = _samples("q", 110, 200)
    au = _samples("q", 90, 200)
    for k in range(82, 90):  # 8 that UK got and AU did not...
        au[f"q{k:04d}"] = 0.0
    for k in range(110, 118):  # ...and 8 the other way round
        au[f"q{k:04d}"] = 1.0
    store.eval_run(model="M", institute="UK", score=0.55, stderr=0.04, samples=uk, n_samples=200)
    store.eval_run(model="M", institute="AU", score=0.45, stderr=0.04, samples=au, n_samples=200)
    row = comparisons.institute_agreement(store.cursor(), AU_ANALYST, ALL, TODAY).data.iloc[0]
    b = sum(1 for s, v in uk.items() if v == 1 and au[s] == 0)
    c = sum(1 for s, v in uk.items() if v == 0 and au[s] == 1)
    assert (row["test"], row["paired"], row["n_paired"]) == ("McNemar exact", True, 200)
    assert row["difference"] == pytest.approx((b - c) / 200)
    assert row["p_value"] == pytest.approx(eval_stats.mcnemar_exact(b, c))
    assert (b, c) == (28, 8)
    assert row["p_value"] == pytest.approx(binom_two_sided(8, 36))
    assert row["status"] == "disagree"
    assert row["overlap"]  # the runs' own 95% intervals overlap: only pairing sees it
    assert row["ci_low"] > 0


def test_agreement_uses_only_runs_the_viewer_may_see(store) -> None:
    store.eval_run(model="X", institute="UK", score=0.9, tlp="AMBER+STRICT", releasable_to=["UK"])
    store.eval_run(model="X", institute="AU", score=0.1, tlp="AMBER+STRICT", releasable_to=["AU"])
    assert comparisons.institute_agreement(store.cursor(), UK_ANALYST, ALL, TODAY).data.empty
    assert comparisons.institute_agreement(store.cursor(), AU_ANALYST, ALL, TODAY).data.empty
