"""Statistics behind the comparisons: constructed cases whose answers are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.stats import eval_stats


def binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided binomial p at 1/2, summed by hand (the textbook McNemar exact test)."""
    tail = sum(math.comb(n, i) for i in range(0, min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


def test_mcnemar_exact_known_values() -> None:
    assert eval_stats.mcnemar_exact(10, 0) == pytest.approx(2 * 0.5**10)  # 0.001953125
    assert eval_stats.mcnemar_exact(0, 0) == 1.0
    assert eval_stats.mcnemar_exact(7, 7) == 1.0
    assert eval_stats.mcnemar_exact(60, 40) == pytest.approx(binom_two_sided(40, 100))
    assert eval_stats.mcnemar_exact(3, 12) == pytest.approx(binom_two_sided(3, 15))
    with pytest.raises(ValueError):
        eval_stats.mcnemar_exact(-1, 2)


def test_paired_binary_difference_and_interval() -> None:
    r = eval_stats.paired_binary(1000, 60, 40)
    assert r.test == "McNemar exact"
    assert r.diff == pytest.approx(0.02)
    se = math.sqrt((100 - 20**2 / 1000) / 1000**2)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.02 - 1.959964 * se, 0.02 + 1.959964 * se), rel=1e-6)
    assert r.discordant == (60, 40)
    assert r.p_value == pytest.approx(binom_two_sided(40, 100))


def test_paired_test_sees_a_real_difference_that_overlapping_intervals_hide() -> None:
    """400 shared questions; B gets the same 200 right as A plus nothing, A 16 more. Unpaired, 0.54 vs 0.50 with
    standard errors of ~0.025 is no evidence (intervals overlap, p ~ 0.26); paired, 16 wins to 0 losses is
    p = 2 * 0.5**16."""
    n, a_right, b_right = 400, 216, 200
    se_a = math.sqrt(a_right / n * (1 - a_right / n) / n)
    se_b = math.sqrt(b_right / n * (1 - b_right / n) / n)
    lo_a, hi_a = eval_stats.wald_interval(a_right / n, se_a)
    lo_b, hi_b = eval_stats.wald_interval(b_right / n, se_b)
    assert eval_stats.intervals_overlap(lo_a, hi_a, lo_b, hi_b)
    _, _, _, p_unpaired = eval_stats.unpaired_z(a_right / n, se_a, b_right / n, se_b)
    assert p_unpaired > 0.2
    paired = eval_stats.paired_binary(n, 16, 0)
    assert paired.p_value == pytest.approx(2 * 0.5**16)
    assert paired.ci_low > 0


def test_bootstrap_on_degenerate_cases() -> None:
    same = eval_stats.paired_bootstrap([0.0], [50])
    assert (same.diff, same.ci_low, same.ci_high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    always = eval_stats.paired_bootstrap([0.5], [40])
    assert (always.diff, always.ci_low, always.ci_high) == (0.5, 0.5, 0.5)
    assert always.p_value == pytest.approx(1 / (eval_stats.BOOTSTRAP_RESAMPLES + 1))


def test_bootstrap_interval_matches_the_normal_theory_for_a_large_sample() -> None:
    """Differences of partial-credit scores: -0.5, 0, +0.5 with counts 100, 700, 200 (n = 1000). Mean 0.05;
    its standard error is sd/sqrt(n); the bootstrap percentile interval must agree closely."""
    values, counts = np.array([-0.5, 0.0, 0.5]), np.array([100, 700, 200])
    r = eval_stats.paired_bootstrap(values, counts)
    n = counts.sum()
    mean = float((values * counts).sum() / n)
    sd = math.sqrt(float(((values - mean) ** 2 * counts).sum() / n))
    assert r.diff == pytest.approx(0.05)
    assert r.n == 1000
    assert r.ci_low == pytest.approx(mean - 1.96 * sd / math.sqrt(n), abs=0.004)
    assert r.ci_high == pytest.approx(mean + 1.96 * sd / math.sqrt(n), abs=0.004)
    assert r.p_value < 0.01
    # deterministic: the same input gives the same interval
    assert eval_stats.paired_bootstrap(values, counts) == r


def test_bootstrap_from_raw_differences_and_many_distinct_values() -> None:
    rng = np.random.default_rng(1)
    d = rng.normal(0.1, 1.0, size=3000)  # all distinct: the index-resampling path
    r = eval_stats.paired_bootstrap_differences(d, resamples=1000)
    se = d.std() / math.sqrt(len(d))
    assert r.diff == pytest.approx(d.mean())
    assert r.ci_low == pytest.approx(d.mean() - 1.96 * se, abs=0.01)
    assert r.ci_high == pytest.approx(d.mean() + 1.96 * se, abs=0.01)


def test_holm_adjustment() -> None:
    assert eval_stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert eval_stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert eval_stats.holm([]) == []


def test_intervals_and_z_test() -> None:
    assert eval_stats.wald_interval(0.5, None) == (None, None)
    assert eval_stats.wald_interval(0.5, 0.1) == pytest.approx((0.5 - 0.196, 0.5 + 0.196), abs=1e-4)
    assert not eval_stats.intervals_overlap(0.1, 0.2, 0.3, 0.4)
    assert eval_stats.intervals_overlap(0.1, 0.3, 0.3, 0.4)
    diff, lo, hi, p = eval_stats.unpaired_z(0.8, 0.03, 0.7, 0.04)
    assert diff == pytest.approx(0.1)
    assert (lo, hi) == pytest.approx((0.1 - 1.959964 * 0.05, 0.1 + 1.959964 * 0.05), rel=1e-6)
    assert p == pytest.approx(1 - 0.9544997361, rel=1e-6)  # z = 2: P(|Z| >= 2)
