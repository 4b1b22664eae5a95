"""Statistics for comparing evaluation results: paired tests, intervals that agree with them, and corrections
across the comparisons a page shows together.

Why paired: when two models answer the same samples, most of the noise in their scores is which samples are
hard, and that noise is shared. Testing the per-sample differences removes it, so a paired test can tell that a
2-point gap is real where two overlapping confidence intervals cannot (Miller, "Adding Error Bars to Evals",
2024). Inspect's viewer shows each run's stderr but does not pair runs.

Why each verdict and its interval come from one method: a page that says "no clear difference" beside an
interval excluding 0 (or the reverse) cannot be defended. Every test here is paired with the interval obtained
by inverting the same test, so "the interval excludes 0" and "p < alpha" are the same statement, at any alpha:
the adjusted verdicts below use the same functions at the level the correction implies.

- Differences all in {-1, 0, 1} (right/wrong scores): McNemar's exact test (b = A right and B wrong, c = the
  reverse; under "no difference" b ~ Binomial(b + c, 1/2)), with an interval for the difference of accuracies
  built from two Clopper-Pearson intervals: the exact conditional one for pi = b / (b + c) (the very test
  McNemar's is, inverted), and one for the share of discordant samples psi = (b + c) / n; the difference is
  psi (2 pi - 1), and the interval is the range of that over both. It excludes 0 exactly when the pi interval
  excludes 1/2, that is exactly when McNemar's exact p < alpha. With no discordant pair (b = c = 0) the verdict
  is "no difference" and the interval is +/- the upper bound on psi, not a zero-width point.
- Any other differences (partial credit, means over epochs): the sign-flip permutation test of the mean
  difference (exact: all 2^n sign patterns for n <= EXACT_SIGN_FLIP_MAX; else SIGN_FLIP_RESAMPLES random ones
  with the +1 correction, which keeps its size at most alpha), and the interval that inverts it (the shifts delta
  the test of d - delta does not reject). It works from (distinct difference, count) summaries that DuckDB
  computes, so its cost does not grow with the number of samples. It replaced a paired bootstrap, which
  rejected 7.7% of true nulls at a nominal 5% at the 10 shared samples the page allows, and whose percentile
  interval and p-value were two different methods.
- No shared samples: a z-test from the runs' standard errors, with the matching normal interval.
- Families: Holm (family-wise error) or Benjamini-Hochberg (false discovery rate) adjusted p-values, and for
  each comparison the level its interval must use so that it excludes 0 exactly when the adjusted p < alpha
  (`adjusted_levels`).

The simulation table in docs/methods.md ("Evaluation comparisons") and tests/analytics/stats/
test_eval_stats_simulation.py show size <= 5% and coverage >= 95% at n = 10, 20, 50 and 200.

Functions here take numbers and arrays, never a connection: analytics.evals.queries does the SQL. scipy and
statsmodels are imported inside the functions that need them (scipy.stats costs 1.7 s to import, 6 s on a busy
machine), so pages importing analytics.evals draw without waiting for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from analytics.wording import counted

Z95 = 1.959963984540054  # two-sided 95% normal quantile
ALPHA = 0.05
SIGN_FLIP_RESAMPLES = 9999
SIGN_FLIP_SEED = 20240917  # fixed: the same data always gives the same p and interval on screen and in tests
EXACT_SIGN_FLIP_MAX = 12  # up to this many samples every one of the 2^n sign patterns is enumerated
MAX_DISTINCT_VALUES = 2000  # beyond this many distinct differences (so n >= 2000): the paired t-test
# Differences are compared as integers in units of 1e-6, so ties (common: scores are 0, 0.5, 1) are exact and
# "p < alpha" and "the interval excludes 0" are decided by the same exact comparisons.
_SCALE = 1_000_000

TEST_MCNEMAR = "McNemar exact"
TEST_SIGN_FLIP = "sign-flip permutation"
TEST_T = "paired t-test"
TEST_Z = "z-test (unpaired)"

Adjustment = Literal["holm", "fdr_bh"]


@dataclass(frozen=True)
class PairedResult:
    """The difference A - B over shared samples, its interval at `level`, and the p-value of the same test."""

    test: str  # TEST_MCNEMAR | TEST_SIGN_FLIP | TEST_T
    n: int  # shared samples
    diff: float  # mean of A - B
    ci_low: float
    ci_high: float
    p_value: float
    discordant: tuple[int, int] | None = None  # (A right & B wrong, A wrong & B right), binary case
    level: float = 1 - ALPHA  # confidence level of (ci_low, ci_high)


def wald_interval(score: float | None, stderr: float | None) -> tuple[float | None, float | None]:
    """score ± 1.96 stderr; (None, None) when either is unknown."""
    if score is None or stderr is None or _nan(score) or _nan(stderr):
        return None, None
    return score - Z95 * stderr, score + Z95 * stderr


# -- right/wrong scores: McNemar's exact test and its interval ------------------------------------------------


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when there are none)."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    if b + c == 0:
        return 1.0
    from statsmodels.stats.contingency_tables import mcnemar

    return float(mcnemar([[0, int(b)], [int(c), 0]], exact=True).pvalue)


def mcnemar_interval(
    n: np.ndarray | int, b: np.ndarray | int, c: np.ndarray | int, alpha: float = ALPHA
) -> tuple[np.ndarray, np.ndarray]:
    """Interval for the paired difference of accuracies (b - c) / n that excludes 0 exactly when McNemar's
    exact test rejects at `alpha` (vectorised over arrays of tables; see the module docstring)."""
    from statsmodels.stats.proportion import proportion_confint

    n_, b_, c_ = (np.asarray(x, dtype=np.int64) for x in (n, b, c))
    m = b_ + c_
    with np.errstate(invalid="ignore", divide="ignore"):
        pi_lo, pi_hi = proportion_confint(b_, np.maximum(m, 1), alpha=alpha, method="beta")
        psi_lo, psi_hi = proportion_confint(m, n_, alpha=alpha, method="beta")
    # No discordant pair: pi is unrestricted (and its Clopper-Pearson bounds are nan when m = 0).
    pi_lo = np.where(m == 0, 0.0, np.nan_to_num(pi_lo, nan=0.0))
    pi_hi = np.where(m == 0, 1.0, np.nan_to_num(pi_hi, nan=1.0))
    psi_lo = np.nan_to_num(psi_lo, nan=0.0)
    psi_hi = np.nan_to_num(psi_hi, nan=1.0)
    low_edge, high_edge = 2 * pi_lo - 1, 2 * pi_hi - 1
    low = np.where(low_edge >= 0, psi_lo * low_edge, psi_hi * low_edge)
    high = np.where(high_edge >= 0, psi_hi * high_edge, psi_lo * high_edge)
    return low, high


def mcnemar_p_values(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """McNemar's exact two-sided p-values for arrays of discordant counts (1 where b + c = 0)."""
    from scipy import stats

    b_, c_ = np.asarray(b, dtype=np.int64), np.asarray(c, dtype=np.int64)
    m = b_ + c_
    p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(b_, c_), np.maximum(m, 1), 0.5))
    return np.where(m == 0, 1.0, p)


def paired_binary(n: int, b: int, c: int, alpha: float = ALPHA) -> PairedResult:
    """Paired comparison of two accuracies over the same n samples with b, c discordant pairs."""
    if n <= 0:
        raise ValueError("no shared samples")
    if b < 0 or c < 0 or b + c > n:
        raise ValueError(f"discordant counts b={b}, c={c} do not fit {counted(n, 'shared sample')}")
    p = mcnemar_exact(b, c)
    low, high = mcnemar_interval(n, b, c, alpha)
    lo, hi = float(low), float(high)
    # The interval and the test are the same inequality (pi interval vs 1/2); the guards only absorb floating
    # rounding at a p-value within 1e-12 of alpha, so the two can never be shown disagreeing.
    if p < alpha and lo <= 0 <= hi:
        lo, hi = (max(lo, 1e-12), hi) if b > c else (lo, min(hi, -1e-12))
    if p >= alpha and not lo <= 0 <= hi:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    return PairedResult(TEST_MCNEMAR, n, (b - c) / n, lo, hi, p, (int(b), int(c)), 1 - alpha)


# -- any other differences: the sign-flip permutation test and the interval that inverts it --------------------


def sign_flip(
    values: Sequence[float] | np.ndarray,
    counts: Sequence[int] | np.ndarray,
    *,
    alpha: float = ALPHA,
    resamples: int = SIGN_FLIP_RESAMPLES,
    seed: int = SIGN_FLIP_SEED,
) -> PairedResult:
    """Sign-flip permutation test of the mean paired difference, given each distinct difference and how often
    it occurs, with the interval that inverts the same test (paired t-test when there are more than
    MAX_DISTINCT_VALUES distinct differences)."""
    v = np.asarray(values, dtype=float)
    k = np.asarray(counts, dtype=np.int64)
    if v.shape != k.shape or v.ndim != 1 or len(v) == 0:
        raise ValueError("values and counts must be equal-length, non-empty vectors")
    if (k < 0).any() or int(k.sum()) <= 0:
        raise ValueError("no shared samples")
    n = int(k.sum())
    if len(v) > MAX_DISTINCT_VALUES or float(np.abs(v).max()) * n * _SCALE > 2**62:
        return paired_t(v, k, alpha=alpha)
    p, lo, hi = sign_flip_batch(v, k[None, :], alpha=alpha, resamples=resamples, seed=seed)
    mean = float((v * k).sum() / n)
    return PairedResult(TEST_SIGN_FLIP, n, mean, float(lo[0]), float(hi[0]), float(p[0]), None, 1 - alpha)


def sign_flip_batch(
    values: np.ndarray,
    counts: np.ndarray,
    *,
    alpha: float = ALPHA,
    resamples: int = SIGN_FLIP_RESAMPLES,
    seed: int = SIGN_FLIP_SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, ci_low, ci_high) of the sign-flip test for many tables of counts over the same distinct values
    (`counts` has one row per table, all with the same total n). Vectorised: the simulation tests use it.

    For each sign pattern r, the flipped sum of d - delta is a_r - delta s_r (a_r: flipped sum of d, s_r: sum of
    the signs) and the observed sum is A - delta n. Pattern r is at least as extreme as the data exactly on
    [min(d1, d2), max(d1, d2)] with d1 = (a_r + A) / (n + s_r), d2 = (A - a_r) / (n - s_r) (it is strictly
    monotone on either side of A / n, where the observed sum is 0), so the p-value at delta is a count of
    intervals that all contain A / n, and the confidence set {delta : p(delta) >= alpha} is the interval
    between the k-th smallest lower end and the k-th largest upper end, k the count p >= alpha needs."""
    v = np.rint(np.asarray(values, dtype=float) * _SCALE).astype(np.int64)
    k = np.asarray(counts, dtype=np.int64)
    n = int(k[0].sum())
    if (k.sum(axis=1) != n).any():
        raise ValueError("every table in a batch must have the same number of samples")
    observed = k @ v  # (tables,)
    if n <= EXACT_SIGN_FLIP_MAX:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)  # (2^n, n): every pattern
        expanded = np.stack([np.repeat(v, row) for row in k])  # (tables, n)
        flipped = expanded @ signs.T  # (tables, 2^n)
        sign_sums = np.broadcast_to(signs.sum(axis=1), flipped.shape)
        total, extra = 2**n, 0  # the identity pattern is among them
    else:
        rng = np.random.default_rng(seed)
        heads = rng.binomial(np.broadcast_to(k[:, None, :], (k.shape[0], resamples, k.shape[1])), 0.5)
        s = 2 * heads - k[:, None, :]  # (tables, R, values): net sign per distinct value
        flipped = s @ v
        sign_sums = s.sum(axis=2)
        total, extra = resamples + 1, 1  # +1: the data's own pattern, so the p-value is valid (size <= alpha)
    a, obs = flipped, observed[:, None]
    p = (np.count_nonzero(np.abs(a) >= np.abs(obs), axis=1) + extra) / total
    # Each pattern's interval of delta; patterns with all signs equal (s = +-n) count for every delta.
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.where(sign_sums == -n, np.inf, (a + obs) / (n + sign_sums))
        d2 = np.where(sign_sums == n, np.inf, (obs - a) / (n - sign_sums))
    always = np.abs(sign_sums) == n
    lower = np.where(always, -np.inf, np.minimum(d1, d2))
    upper = np.where(always, np.inf, np.maximum(d1, d2))
    # delta is inside <=> p(delta) >= alpha <=> (patterns covering delta + extra) / total >= alpha
    # (decided with the same float expression as p above, so "0 is inside" and "p >= alpha" never differ)
    need = max(math.floor(alpha * total - extra), 1)
    while need > 1 and (need - 1 + extra) / total >= alpha:
        need -= 1
    while (need + extra) / total < alpha:
        need += 1
    lower.sort(axis=1)
    upper.sort(axis=1)
    count = upper.shape[1]
    if need > count:  # alpha below the smallest attainable p: nothing can be excluded
        inf = np.full(len(p), np.inf)
        return p, -inf, inf
    lo = lower[:, need - 1] / _SCALE
    hi = upper[:, count - need] / _SCALE
    return p, lo, hi


def paired_t(values: np.ndarray, counts: np.ndarray, *, alpha: float = ALPHA) -> PairedResult:
    """Paired t-test and its interval from (value, count) summaries: only for thousands of distinct
    differences, where n >= MAX_DISTINCT_VALUES and the normal approximation holds."""
    from scipy import stats

    n = int(counts.sum())
    mean = float((values * counts).sum() / n)
    var = float(((values - mean) ** 2 * counts).sum() / (n - 1)) if n > 1 else 0.0
    se = math.sqrt(var / n)
    if se == 0:
        p = 1.0 if mean == 0 else 0.0
        return PairedResult(TEST_T, n, mean, mean, mean, p, None, 1 - alpha)
    t = mean / se
    p = float(2 * stats.t.sf(abs(t), n - 1))
    q = float(stats.t.ppf(1 - alpha / 2, n - 1))
    return PairedResult(TEST_T, n, mean, mean - q * se, mean + q * se, p, None, 1 - alpha)


def paired_differences(
    values: Sequence[float] | np.ndarray, counts: Sequence[int] | np.ndarray, alpha: float = ALPHA
) -> PairedResult:
    """The paired test for these differences: McNemar's exact test when every difference is -1, 0 or 1,
    else the sign-flip permutation test."""
    v = np.asarray(values, dtype=float)
    k = np.asarray(counts, dtype=np.int64)
    if v.shape != k.shape or v.ndim != 1 or len(v) == 0 or int(k.sum()) <= 0:
        raise ValueError("values and counts must be equal-length, non-empty vectors with samples")
    if np.isin(v, (-1.0, 0.0, 1.0)).all():
        return paired_binary(int(k.sum()), int(k[v == 1.0].sum()), int(k[v == -1.0].sum()), alpha)
    return sign_flip(v, k, alpha=alpha)


def paired_bootstrap_differences(d: Sequence[float] | np.ndarray, **_: int) -> PairedResult:
    """The paired test from raw per-sample differences (the name is kept for the bench harness's pandas
    baseline; the method is `paired_differences`)."""
    values, counts = np.unique(np.round(np.asarray(d, dtype=float), 9), return_counts=True)
    return paired_differences(values, counts)


# -- unpaired ---------------------------------------------------------------------------------------------------


def unpaired_z(
    a: float, se_a: float, b: float, se_b: float, alpha: float = ALPHA
) -> tuple[float, float, float, float]:
    """(difference, ci_low, ci_high, p) for two independent scores with standard errors; the interval is at
    1 - alpha, so it excludes 0 exactly when p < alpha."""
    diff = a - b
    se = math.sqrt(se_a**2 + se_b**2)
    if se == 0:
        return diff, diff, diff, (1.0 if diff == 0 else 0.0)
    p = math.erfc(abs(diff) / se / math.sqrt(2))  # = 2 * (1 - Phi(|z|)), without importing scipy
    z = Z95 if alpha == ALPHA else _normal_quantile(1 - alpha / 2)
    return diff, diff - z * se, diff + z * se, p


def _normal_quantile(q: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(q))


# -- families of comparisons ------------------------------------------------------------------------------------


def adjusted_levels(
    p_values: Sequence[float], method: Adjustment = "holm", alpha: float = ALPHA
) -> tuple[list[float], list[float]]:
    """Adjusted p-values (statsmodels' multipletests) and, for each comparison, the alpha its interval must use
    so that the interval excludes 0 exactly when the adjusted p < alpha.

    Holm: the k-th smallest p is rejected while every p up to it is below alpha / (m - j + 1); a rejected one
    gets its own step's level, and every one from the first step not rejected on gets that step's level (their
    p are at least that, so their intervals hold 0). Benjamini-Hochberg: with R rejections every interval is at
    level 1 - R alpha / m (1 - alpha / m when R = 0), the false-coverage-rate intervals of Benjamini and
    Yekutieli (2005)."""
    m = len(p_values)
    if m == 0:
        return [], []
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    adjusted = [float(x) for x in multipletests(p, alpha=alpha, method=method)[1]]
    order = np.argsort(p, kind="stable")
    levels = [0.0] * m
    if method == "holm":
        stopped: float | None = None
        for rank, i in enumerate(order):
            step = alpha / (m - rank)
            if stopped is None and p[i] >= step:
                stopped = step
            levels[int(i)] = step if stopped is None else stopped
    else:
        rejected = sum(1 for x in adjusted if x < alpha)
        levels = [max(rejected, 1) * alpha / m] * m
    return adjusted, levels


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given)."""
    return adjusted_levels(p_values, "holm")[0]


def intervals_overlap(lo_a: float, hi_a: float, lo_b: float, hi_b: float) -> bool:
    return lo_a <= hi_b and lo_b <= hi_a


def _nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)
