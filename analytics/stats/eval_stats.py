"""Statistics for comparing evaluation results: intervals, paired tests, agreement between institutes.

Why paired: when two models answer the same samples, most of the noise in their scores is which samples are
hard, and that noise is shared. Testing the per-sample differences removes it, so a paired test can tell that a
2-point gap is real where two overlapping confidence intervals cannot (Miller, "Adding Error Bars to Evals",
2024). Inspect's viewer shows each run's stderr but does not pair runs.

- Binary per-sample scores (0/1 in both runs): McNemar's exact test on the discordant pairs (b = A right and
  B wrong, c = the reverse): under "no difference" b ~ Binomial(b + c, 1/2). The interval for the difference
  of accuracies is the Wald interval for paired proportions.
- Any other scores (partial credit 0.5, means over epochs, continuous): a paired bootstrap of the mean
  difference. Resampling n pairs with replacement is the same as drawing how many times each distinct
  difference value is picked from a multinomial, so the bootstrap runs on (value, count) summaries that DuckDB
  computes; its cost does not grow with the number of samples (10M samples cost the same as 1,000).
- Several pairs of models on one benchmark: Holm's step-down correction, so "real difference" keeps a 5%
  family-wise error rate across the pairs shown together.

Functions here take numbers and arrays, never a connection: analytics.evals.queries does the SQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20240917  # fixed: the same data always gives the same interval on screen and in tests
MULTINOMIAL_MAX_VALUES = 2000  # beyond this many distinct differences, resample indices instead


@dataclass(frozen=True)
class PairedResult:
    """The difference A - B over shared samples and whether it is distinguishable from zero."""

    test: str  # 'McNemar exact' | 'paired bootstrap'
    n: int  # shared samples
    diff: float  # mean of A - B
    ci_low: float
    ci_high: float
    p_value: float
    discordant: tuple[int, int] | None = None  # (A right & B wrong, A wrong & B right), binary case


def wald_interval(score: float | None, stderr: float | None) -> tuple[float | None, float | None]:
    """score ± 1.96 stderr; (None, None) when either is unknown."""
    if score is None or stderr is None or _nan(score) or _nan(stderr):
        return None, None
    return score - Z95 * stderr, score + Z95 * stderr


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when there are none)."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    if b + c == 0:
        return 1.0
    # Imported here: scipy.stats costs 1.7 s (6 s on a busy machine) and only this test needs it, so pages that
    # import analytics.evals.queries draw without waiting for it.
    from scipy import stats

    return float(stats.binomtest(int(b), int(b + c), 0.5, alternative="two-sided").pvalue)


def paired_binary(n: int, b: int, c: int) -> PairedResult:
    """Paired comparison of two accuracies over the same n samples with b, c discordant pairs."""
    if n <= 0:
        raise ValueError("no shared samples")
    diff = (b - c) / n
    var = max((b + c) - (b - c) ** 2 / n, 0.0) / n**2
    se = math.sqrt(var)
    return PairedResult(
        "McNemar exact", n, diff, diff - Z95 * se, diff + Z95 * se, mcnemar_exact(b, c), (int(b), int(c))
    )


def paired_bootstrap(
    values: Sequence[float] | np.ndarray,
    counts: Sequence[int] | np.ndarray,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> PairedResult:
    """Bootstrap of the mean paired difference, given each distinct difference and how often it occurs.

    Percentile 95% interval; the p-value is the share of resampled means at least as far from the observed
    mean as the observed mean is from zero (the bootstrap distribution shifted to the null), with the +1
    correction so it is never exactly 0."""
    v = np.asarray(values, dtype=float)
    k = np.asarray(counts, dtype=np.int64)
    if v.shape != k.shape or v.ndim != 1 or len(v) == 0:
        raise ValueError("values and counts must be equal-length, non-empty vectors")
    n = int(k.sum())
    if n <= 0:
        raise ValueError("no shared samples")
    mean = float((v * k).sum() / n)
    rng = np.random.default_rng(seed)
    if len(v) <= MULTINOMIAL_MAX_VALUES:
        draws = rng.multinomial(n, k / n, size=resamples)
        means = draws @ v / n
    else:
        expanded = np.repeat(v, k)
        means = np.empty(resamples)
        chunk = max(1, 2_000_000 // n)
        for start in range(0, resamples, chunk):
            stop = min(resamples, start + chunk)
            idx = rng.integers(0, n, size=(stop - start, n))
            means[start:stop] = expanded[idx].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    extreme = int(np.count_nonzero(np.abs(means - mean) >= abs(mean) - 1e-12))
    p = min(1.0, (extreme + 1) / (resamples + 1))
    if mean == 0.0:
        p = 1.0
    return PairedResult("paired bootstrap", n, mean, float(lo), float(hi), float(p))


def paired_bootstrap_differences(d: Sequence[float] | np.ndarray, **kw: int) -> PairedResult:
    """The same bootstrap from raw per-sample differences."""
    arr = np.asarray(d, dtype=float)
    values, counts = np.unique(arr, return_counts=True)
    return paired_bootstrap(values, counts, **kw)


def unpaired_z(a: float, se_a: float, b: float, se_b: float) -> tuple[float, float, float, float]:
    """(difference, ci_low, ci_high, p) for two independent scores with standard errors."""
    diff = a - b
    se = math.sqrt(se_a**2 + se_b**2)
    if se == 0:
        return diff, diff, diff, (1.0 if diff == 0 else 0.0)
    p = math.erfc(abs(diff) / se / math.sqrt(2))  # = 2 * (1 - Phi(|z|)), without importing scipy
    return diff, diff - Z95 * se, diff + Z95 * se, p


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def intervals_overlap(lo_a: float, hi_a: float, lo_b: float, hi_b: float) -> bool:
    return lo_a <= hi_b and lo_b <= hi_a


def _nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)
