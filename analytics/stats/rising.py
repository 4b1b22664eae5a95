"""Which values (categories, sectors) are "rising fastest": the last 90 days against the 90 before.

Why this method: the page's previous rule listed a value when it had at least 10 incidents and a Poisson z of 2
for the difference. Each value was then listed 2.2% of the time with nothing changing (7.8% for counts twice as
variable as Poisson), so across the ~21 categories and sectors a page showed a false "rising" 37% (82%) of the
time, and ordinary growth of 9% a quarter was listed 49-99% of the time at large counts: a z-test against "no
change" finds any change once counts are large. A policymaker reads "rising fastest" as "materially rising, and
not by chance", so the rule tests exactly that (docs/methods.md has the formulas and the simulation table;
`python -m analytics.stats.simulate` reproduces it):

- Material rise: the rate ratio rho = rate now / rate before must exceed `min_ratio` (1.5). The test is of
  H0: rho <= 1.5 against rho > 1.5, not of rho = 1, so growth below 1.5x is not listed however large the
  counts. Conditional on the total T = n + prev, n ~ Binomial(T, pi) with pi = rho / (1 + rho) for windows of
  equal length (the conditional test of two Poisson rates), so H0 is pi <= pi0 = 1.5 / 2.5.
- Overdispersion: counts vary more than Poisson (reporting comes in bursts), so the binomial is a quasi-binomial
  with dispersion phi: p = P(Bin(T / phi, pi0) >= n / phi). phi is estimated across the other values of the same
  table (Pearson chi-square of their counts against their pooled share, on their number less one degrees of
  freedom), leaving the tested value out so that a real rise does not hide itself; it is floored at 1 and
  averaged over its chi-square sampling distribution as for the anomaly flags (a t-type allowance for a
  dispersion estimated from a dozen values).
- Multiplicity: Holm's step-down adjustment across the values of a table, and Bonferroni across the page's
  tables (`tables`, 2 on the overview: categories and sectors), so that with nothing changing the chance that a
  page lists anything at all is at most `alpha` (5%).
- A value must also have at least `min_count` (10) incidents in the recent window.

Pure functions on arrays and small frames, proven by seeded simulation (tests/analytics/stats/test_rising.py).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import betainc, chdtri, gammainc

from analytics.stats.anomalies import CHI2_UNCOVERED, CHI2_WEIGHTS, dispersion_draws

RISING_COLUMNS = ["value", "n", "prev", "change", "ratio", "p_value", "adjusted_p"]


@dataclass(frozen=True)
class RisingRule:
    min_count: int = 10
    min_ratio: float = 1.5
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if not self.min_ratio >= 1:
            raise ValueError(f"RisingRule: min_ratio must be at least 1, got {self.min_ratio}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"RisingRule: alpha must be between 0 and 1, got {self.alpha}")

    def describe(self) -> str:
        return (
            f"Last 90 days against the 90 before. A value is listed when it has at least {self.min_count} "
            f"incidents and its rate is significantly more than {self.min_ratio:g}× what it was, allowing for "
            f"counts more variable than chance alone (estimated from the other values) and corrected across "
            f"all values shown (Holm), so that with nothing changing a page lists anything at most "
            f"{self.alpha:.0%} of the time. See docs/methods.md."
        )


DEFAULT_RISING_RULE = RisingRule()


class RisingTest(NamedTuple):
    """Per value (same shape as the counts): observed ratio, p-value, adjusted p-value, listed or not."""

    ratio: np.ndarray
    p_value: np.ndarray
    adjusted_p: np.ndarray
    listed: np.ndarray


# Values whose Pearson residual exceeds this many standard deviations are left out of the dispersion estimate
# (Noufaily et al. 2013 down-weight past outbreaks in the baseline at the same 2.58); the kept residuals are
# then a chi-square(1) truncated there, whose mean is TRUNCATED_MEAN, so the estimate is divided by it.
OUTLIER_Z = 2.58
# Closed forms from scipy.special, not scipy.stats: importing scipy.stats costs a second of CPU on the first page
# after sign-in (the overview), which issue 20 bounds at 2 s. E[V | V <= c] for V ~ chi-square(1) is
# P(chi-square(3) <= c) / P(chi-square(1) <= c) (the chi-square(k) density times v is k times the (k+2) one).
CHI2_1_MEDIAN = float(chdtri(1, 0.5))  # about 0.455
TRUNCATED_MEAN = float(gammainc(1.5, OUTLIER_Z**2 / 2) / gammainc(0.5, OUTLIER_Z**2 / 2))  # about 0.94


def _pearson(
    now: np.ndarray, total: np.ndarray, use: np.ndarray, share: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each value i (axis -2), the squared Pearson residuals of the values j (axis -1) against a share (by
    default the pooled share of the values marked in `use`), the sum of those marked, and their number less one
    (degrees of freedom)."""
    if share is None:
        n_o = np.where(use, now[..., None, :], 0).sum(-1)
        t_o = np.where(use, total[..., None, :], 0).sum(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(t_o > 0, n_o / t_o, 0.0)
    pi = share[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = total[..., None, :] * pi
        var = expected * (1 - pi)
        resid = np.where(var > 0, (now[..., None, :] - expected) ** 2 / var, 0.0)
    return resid, np.where(use, resid, 0.0).sum(-1), use.sum(-1) - 1


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median along the last axis over the masked entries (0 where none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with no entry: an all-NaN median
        return np.nan_to_num(np.nanmedian(np.where(mask, values, np.nan), axis=-1))


def _leave_one_out_dispersion(now: np.ndarray, prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson dispersion of the other values of each row, and its degrees of freedom, for every value.

    For value i: the other values' counts against their pooled share, X^2 = sum (n_j - T_j pi)^2 /
    (T_j pi (1 - pi)) on (number of them) - 1 degrees of freedom; values that themselves changed (residual
    beyond OUTLIER_Z) are left out and the estimate re-made, so that a few real rises elsewhere in the table
    do not pass for noise."""
    total = now + prev
    others = ~np.eye(now.shape[-1], dtype=bool) & (total > 0)[..., None, :]  # (i, j): j counts for i
    # First a robust fit to judge outliers by: the median of the values' shares, and the median squared
    # residual over the median of chi-square(1) (means would be dragged by the very values to be found).
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(total > 0, now / np.where(total > 0, total, 1), 0.0)
    robust_share = _masked_median(np.broadcast_to(shares[..., None, :], others.shape), others)
    resid, _, _ = _pearson(now, total, others, robust_share)
    scale = _masked_median(resid, others) / CHI2_1_MEDIAN
    kept = others & (resid <= OUTLIER_Z**2 * np.maximum(1.0, scale)[..., None])
    _, chi2, df = _pearson(now, total, kept)
    return np.where(df > 0, chi2 / np.maximum(df, 1) / TRUNCATED_MEAN, 0.0), np.maximum(df, 0)


def _quasi_binomial_tail(n: np.ndarray, total: np.ndarray, pi0: float, phi: np.ndarray) -> np.ndarray:
    """P(Bin(T / phi, pi0) >= n / phi): the binomial upper tail with variance phi times the binomial's,
    continuous in n (regularised incomplete beta; exact binomial at phi = 1)."""
    out = np.ones(n.shape)
    live = (n > 0) & (total > 0)
    x = n[live] / phi[live]
    out[live] = betainc(x, (total[live] - n[live]) / phi[live] + 1, pi0)
    return out


def holm_adjust(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values along the last axis (statsmodels' "holm", vectorised over the leading
    axes; multipletests takes one family per call and runs a garbage collection each time)."""
    values = np.asarray(p, dtype=float)
    m = values.shape[-1]
    if m == 0:
        return values.copy()
    order = np.argsort(values, axis=-1)
    ranked = np.take_along_axis(values, order, axis=-1) * (m - np.arange(m))
    stepped = np.minimum(1.0, np.maximum.accumulate(ranked, axis=-1))
    out = np.empty_like(stepped)
    np.put_along_axis(out, order, stepped, axis=-1)
    return out


def rising_matrix(
    now: np.ndarray, prev: np.ndarray, rule: RisingRule = DEFAULT_RISING_RULE, *, tables: int = 1
) -> RisingTest:
    """The rule for every value (last axis) of one or many tables (leading axes) of counts at once.

    `tables` is how many tables share the page's error rate (Bonferroni across them, Holm within each)."""
    n = np.asarray(now, dtype=float)
    p0 = np.asarray(prev, dtype=float)
    if n.shape != p0.shape or n.ndim == 0:
        raise ValueError(
            f"rising_matrix: now and prev must be arrays of one shape, got {n.shape} and {p0.shape}"
        )
    if tables < 1:
        raise ValueError(f"rising_matrix: tables must be at least 1, got {tables}")
    total = n + p0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(p0 > 0, n / np.where(p0 > 0, p0, 1), np.where(n > 0, np.inf, np.nan))
    raw, df = _leave_one_out_dispersion(n, p0)
    pi0 = rule.min_ratio / (1 + rule.min_ratio)
    p = np.full(n.shape, CHI2_UNCOVERED)
    for weight, phi in zip(CHI2_WEIGHTS, dispersion_draws(raw, np.maximum(df, 1)), strict=True):
        p += weight * _quasi_binomial_tail(n, total, pi0, phi)
    p = np.minimum(1.0, p)
    p = np.where(df >= 1, p, 1.0)  # no other value to say how variable counts are: nothing can be shown
    adjusted = np.minimum(1.0, holm_adjust(p) * tables)
    listed = (adjusted < rule.alpha) & (n >= rule.min_count)
    return RisingTest(ratio, p, adjusted, listed)


def rising(
    df: pd.DataFrame, rule: RisingRule = DEFAULT_RISING_RULE, limit: int = 5, *, tables: int = 1
) -> pd.DataFrame:
    """The listed values of one table (columns value, n, prev), fastest first: columns value, n, prev, change
    ((n - prev) / prev, NaN for a value new in the window), ratio (n / prev, inf when new), p_value, adjusted_p
    (Holm across the table's values, times `tables`)."""
    missing = {"value", "n", "prev"} - set(df.columns)
    if missing:
        raise ValueError(f"rising: the table lacks column(s) {', '.join(sorted(missing))}")
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in RISING_COLUMNS}).astype(
            {"value": "object"}
        )
    test = rising_matrix(df["n"].to_numpy(dtype=float), df["prev"].to_numpy(dtype=float), rule, tables=tables)
    out = df[["value", "n", "prev"]].copy()
    out["change"] = (out["n"] - out["prev"]) / out["prev"].where(out["prev"] > 0)
    out["ratio"] = test.ratio
    out["p_value"] = test.p_value
    out["adjusted_p"] = test.adjusted_p
    keep = out[test.listed].copy()
    keep["_rank"] = keep["ratio"]
    keep = keep.sort_values(["_rank", "n", "value"], ascending=[False, False, True]).head(limit)
    return keep.drop(columns="_rank").reset_index(drop=True)[RISING_COLUMNS]
