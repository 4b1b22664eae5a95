"""Statistics behind the comparisons: constructed cases whose answers are known in closed form, and the rule
that a verdict and its interval never disagree (size and coverage: test_eval_stats_simulation.py)."""

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
    assert r.discordant == (60, 40)
    assert r.p_value == pytest.approx(binom_two_sided(40, 100))
    # exact conditional interval: Clopper-Pearson for b / (b + c) and for (b + c) / n, combined
    from statsmodels.stats.proportion import proportion_confint

    pi_lo, pi_hi = proportion_confint(60, 100, method="beta")
    _, psi_hi = proportion_confint(100, 1000, method="beta")  # both ends: pi straddles 1/2
    assert (r.ci_low, r.ci_high) == pytest.approx((psi_hi * (2 * pi_lo - 1), psi_hi * (2 * pi_hi - 1)))
    assert r.ci_low < 0 < r.ci_high  # p = 0.057: no clear difference, and the interval agrees


def test_one_sided_discordance_is_significant_and_its_interval_excludes_zero() -> None:
    """b = 25, c = 0 of 200: p = 2 * 0.5**25, and the interval must say the same (the Wald interval the page
    used gave a verdict and an interval from two different methods)."""
    r = eval_stats.paired_binary(200, 25, 0)
    assert r.p_value == pytest.approx(2 * 0.5**25)
    assert 0 < r.ci_low < r.diff == 0.125 < r.ci_high


def test_no_discordant_pair_gives_no_difference_and_a_real_interval() -> None:
    """b = c = 0: nothing tells the models apart. The old interval was the point [0, 0]; the exact one is
    +/- the Clopper-Pearson upper bound on the discordant share, 1 - 0.025**(1/n)."""
    r = eval_stats.paired_binary(200, 0, 0)
    assert (r.diff, r.p_value) == (0.0, 1.0)
    assert r.ci_high == pytest.approx(1 - 0.025 ** (1 / 200))
    assert r.ci_low == pytest.approx(-r.ci_high)
    assert r.ci_high - r.ci_low > 0.03


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.05 / 7])
def test_mcnemar_interval_excludes_zero_exactly_when_the_test_rejects(alpha: float) -> None:
    for n in (10, 37, 200):  # every table of n samples
        b, c = (x.ravel() for x in np.meshgrid(np.arange(n + 1), np.arange(n + 1)))
        b, c = b[b + c <= n], c[b + c <= n]
        p = eval_stats.mcnemar_p_values(b, c)
        lo, hi = eval_stats.mcnemar_interval(n, b, c, alpha)
        assert np.array_equal(p < alpha, (lo > 0) | (hi < 0)), n
        assert ((lo <= (b - c) / n) & ((b - c) / n <= hi)).all()
    for b, c in ((7, 0), (6, 0), (8, 1), (0, 0)):  # and through the function the page calls
        r = eval_stats.paired_binary(10, b, c, alpha)
        assert (r.p_value < alpha) == (not r.ci_low <= 0 <= r.ci_high), (b, c, alpha)


def test_sign_flip_is_exact_for_small_n_and_agrees_with_scipy() -> None:
    """Ten partial-credit differences: every one of the 2^10 sign patterns is enumerated, as scipy's
    permutation_test does when it can; the two p-values are the same number."""
    from scipy import stats

    d = np.array([0.5, 0.5, 0.5, 1.0, 0.0, -0.5, 0.5, 1.0, 0.5, 0.0])
    values, counts = np.unique(d, return_counts=True)
    r = eval_stats.sign_flip(values, counts)
    ref = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=10_000)
    assert r.test == "sign-flip permutation"
    assert r.p_value == pytest.approx(ref.pvalue)
    assert r.diff == pytest.approx(0.4)
    assert (r.p_value < 0.05) == (not r.ci_low <= 0 <= r.ci_high)


@pytest.mark.parametrize("seed", range(20))
def test_sign_flip_interval_excludes_zero_exactly_when_the_test_rejects(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 300))
    d = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=n, p=rng.dirichlet(np.ones(5)))
    values, counts = np.unique(d, return_counts=True)
    for alpha in (0.05, 0.01, 0.05 / 4):
        r = eval_stats.sign_flip(values, counts, alpha=alpha)
        assert (r.p_value < alpha) == (not r.ci_low <= 0 <= r.ci_high), (seed, alpha)


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_adjusted_levels_make_intervals_agree_with_adjusted_verdicts(method: str) -> None:
    """For every family, p < level exactly when the adjusted p < 0.05: an interval at that level excludes 0
    exactly when the adjusted verdict is 'real difference'."""
    rng = np.random.default_rng(3)
    for _ in range(40):  # (multipletests runs gc.collect on every call: 40 families, not hundreds)
        m = int(rng.integers(1, 12))
        p = np.where(rng.random(m) < 0.5, rng.uniform(0, 0.02, m), rng.uniform(0, 1, m))
        adjusted, levels = eval_stats.adjusted_levels(p.tolist(), method)
        for pi, adj, level in zip(p, adjusted, levels, strict=True):
            assert (pi < level) == (adj < 0.05)
            assert level >= 0.05 / m
    assert eval_stats.adjusted_levels([0.01, 0.04, 0.03], "holm") == (
        pytest.approx([0.03, 0.06, 0.06]),
        pytest.approx([0.05 / 3, 0.025, 0.025]),
    )


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


def test_sign_flip_on_degenerate_cases() -> None:
    same = eval_stats.sign_flip([0.0], [50])
    assert (same.diff, same.ci_low, same.ci_high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    always = eval_stats.sign_flip([0.5], [40])
    assert (always.diff, always.ci_low, always.ci_high) == (0.5, 0.5, 0.5)
    assert always.p_value == pytest.approx(1 / (eval_stats.SIGN_FLIP_RESAMPLES + 1))


def test_sign_flip_interval_matches_the_normal_theory_for_a_large_sample() -> None:
    """Differences of partial-credit scores: -0.5, 0, +0.5 with counts 100, 700, 200 (n = 1000). Mean 0.05;
    its standard error is sd/sqrt(n); the inverted sign-flip interval must agree closely."""
    values, counts = np.array([-0.5, 0.0, 0.5]), np.array([100, 700, 200])
    r = eval_stats.sign_flip(values, counts)
    n = counts.sum()
    mean = float((values * counts).sum() / n)
    sd = math.sqrt(float(((values - mean) ** 2 * counts).sum() / n))
    assert r.diff == pytest.approx(0.05)
    assert r.n == 1000
    assert r.ci_low == pytest.approx(mean - 1.96 * sd / math.sqrt(n), abs=0.004)
    assert r.ci_high == pytest.approx(mean + 1.96 * sd / math.sqrt(n), abs=0.004)
    assert r.p_value < 0.01
    # deterministic: the same input gives the same interval
    assert eval_stats.sign_flip(values, counts) == r


def test_many_distinct_differences_use_the_paired_t_test() -> None:
    rng = np.random.default_rng(1)
    d = rng.normal(0.1, 1.0, size=3000)  # all distinct
    r = eval_stats.paired_bootstrap_differences(d)
    se = d.std(ddof=1) / math.sqrt(len(d))
    assert r.test == "paired t-test"
    assert r.diff == pytest.approx(d.mean())
    assert r.ci_low == pytest.approx(d.mean() - 1.96 * se, abs=0.001)
    assert r.ci_high == pytest.approx(d.mean() + 1.96 * se, abs=0.001)


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
