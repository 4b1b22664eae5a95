"""Flags for periods whose incident count breaks from its recent baseline (the "what's new" list).

Why this method: incident counts are overdispersed (reporting comes in bursts), and a baseline of a few periods
says little about how bursty a series is. The previous rule plugged a dispersion estimated from 3-6 periods into
a quasi-Poisson tail and flagged 1.3-2.4% of ordinary periods of negative binomial (phi = 3) series against a
stated 0.1%. This rule follows the outbreak-detection methods built for exactly these counts (Farrington et al.
1996; Noufaily et al. 2013, the "improved Farrington"), and carries the uncertainty of the estimated dispersion
into the p-value, so the stated rate holds (docs/methods.md has the formulas, the simulation table and
references; `python -m analytics.stats.simulate` reproduces it):

- Each series is a count per period on a complete grid (missing periods are zeros). The baseline of period t
  is the `window` periods before it (12); at least `min_baseline` (6) must exist and hold at least
  `min_baseline_total` (5) incidents, otherwise the period is not tested at all (too little to know what is
  normal).
- Baseline mean m and Pearson dispersion phi_hat = s^2 / m (quasi-Poisson, as in Farrington and Noufaily).
- The count x is compared with a negative binomial predictive distribution of mean m and variance
  phi * m * (1 + 1/k): the factor (1 + 1/k) is the uncertainty of m from k periods (Farrington's tau), and
  phi = max(1, phi_hat * (k - 1) / c) is averaged over c ~ chi-square(k - 1), the sampling distribution of the
  dispersion estimate, with the floor of 1 applied to each draw (Noufaily). This is the count analogue of a
  t-type bound: a normal mean with an estimated variance gives Student's t in exactly this way.
- A period is flagged only if p < `alpha` (0.001), x >= `min_count` (5) and x >= `min_ratio` x m (1.5x: at
  large counts any wobble is "significant", so an effect size is required too). Only rises are flagged: drops
  mostly mean late reporting.
- Across many series and periods at once (`flag_grid`), the p-values of every tested cell in the reported
  periods are adjusted by Benjamini-Hochberg and a cell is flagged only if its adjusted p is below `fdr` (0.05)
  as well: the share of flags that are false stays below 5%, and with nothing happening a whole grid shows
  any flag at all in at most about 5% of views.

Pure functions on arrays and small frames; no data access, so each property is proven by seeded simulation
(tests/analytics/stats/test_anomalies_calibration.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.special import betainc, chdtri, gammainc


@dataclass(frozen=True)
class AnomalyRule:
    window: int = 12
    min_baseline: int = 6
    min_baseline_total: int = 5
    min_count: int = 5
    min_ratio: float = 1.5
    alpha: float = 0.001
    fdr: float = 0.05

    def __post_init__(self) -> None:
        if not 2 <= self.min_baseline <= self.window:
            raise ValueError(f"AnomalyRule: min_baseline must be between 2 and window ({self.window})")
        if not (0 < self.alpha < 1 and 0 < self.fdr < 1):
            raise ValueError("AnomalyRule: alpha and fdr must be between 0 and 1")

    def describe(self) -> str:
        return (
            f"A period is flagged when its count is at least {self.min_count} and at least {self.min_ratio:g}× "
            f"the mean of the previous {self.window} periods (at least {self.min_baseline} periods and "
            f"{self.min_baseline_total} incidents of baseline needed), and a negative binomial test that allows "
            f"for the burstiness estimated from that baseline, and for the uncertainty of that estimate, gives "
            f"p < {self.alpha:g}; across all series and periods shown, false flags are held below "
            f"{self.fdr:.0%} (Benjamini–Hochberg). Rate checked by simulation: see docs/methods.md."
        )


DEFAULT_RULE = AnomalyRule()

ANOMALY_COLUMNS = ["series", "period", "count", "expected", "ratio", "p_value", "adjusted_p"]

# Quadrature over the chi-square sampling distribution of a dispersion estimate: bins in probability, dense in
# the lower tail (a small chi-square = the dispersion was underestimated = the draws that matter at p ~ 0.001).
# The tail bins (below 0.1) are evaluated at their lower edge (the larger dispersion), the others at their
# midpoint, so the quadrature errs on the safe side where small p-values come from; the mass below the first
# edge (1e-7) is counted as a certain exceedance.
_EDGES = np.concatenate([[1e-7], np.geomspace(1e-6, 0.1, 16)[:-1], np.linspace(0.1, 1.0, 19)])
CHI2_POINTS = np.where(_EDGES[1:] <= 0.1, _EDGES[:-1], (_EDGES[:-1] + _EDGES[1:]) / 2)
CHI2_WEIGHTS = np.diff(_EDGES)
CHI2_UNCOVERED = float(_EDGES[0])


def dispersion_draws(raw_dispersion: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Dispersions consistent with a Pearson estimate `raw_dispersion` on `df` degrees of freedom, one row per
    quadrature point: phi = raw x df / c at c = the chi-square(df) quantile of each point, floored at 1
    (Noufaily et al. 2013). Weighted by CHI2_WEIGHTS they are the estimate's sampling distribution."""
    raw, d = np.broadcast_arrays(np.asarray(raw_dispersion, dtype=float), np.asarray(df, dtype=float))
    # chdtri(df, 1 - q) is chi2.ppf(q, df); scipy.special, since scipy.stats costs a second of CPU to import on
    # the first page after sign-in (issue 20).
    chi2 = chdtri(np.maximum(d, 1e-9)[None], 1 - CHI2_POINTS.reshape(-1, *([1] * raw.ndim)))
    return np.maximum(1.0, raw[None] * d[None] / chi2)


class Flags(NamedTuple):
    """Flagged cells of a (periods x series) matrix, as parallel arrays."""

    period: np.ndarray  # row index
    series: np.ndarray  # column index
    observed: np.ndarray  # the count
    expected: np.ndarray  # baseline mean
    p_value: np.ndarray
    adjusted_p: np.ndarray  # Benjamini-Hochberg across the tested cells (= p_value without fdr)


def nb_upper_tail(count: np.ndarray, mean: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
    """P(X >= count) for X negative binomial with this mean and variance dispersion x mean (Poisson at 1).

    Continuous in `count` (regularised incomplete beta / gamma), so scaled counts work too."""
    x, m, phi = np.broadcast_arrays(
        np.asarray(count, dtype=float), np.asarray(mean, dtype=float), np.asarray(dispersion, dtype=float)
    )
    out = np.ones(x.shape)
    live = (x > 0) & (m > 0)
    poisson = live & (phi <= 1 + 1e-9)
    # P(X >= k) for X ~ Poisson(m) is the regularised lower incomplete gamma P(k, m).
    out[poisson] = gammainc(x[poisson], m[poisson])
    nb = live & ~poisson
    size = m[nb] / (phi[nb] - 1)
    # For X ~ NB(size r, success p = 1/phi): P(X >= k) = I_{1-p}(k, r).
    out[nb] = betainc(x[nb], size, 1 - 1 / phi[nb])
    out[(x > 0) & (m <= 0)] = 0.0
    return out


def predictive_upper_tail(
    count: np.ndarray, mean: np.ndarray, raw_dispersion: np.ndarray, df: np.ndarray, mean_factor: np.ndarray
) -> np.ndarray:
    """P(X >= count) under a negative binomial whose dispersion is only known through an estimate.

    `raw_dispersion` is the Pearson estimate on `df` degrees of freedom; the tail is averaged over the
    dispersions consistent with it (phi = raw x df / c, c ~ chi-square(df)), each floored at 1, and inflated
    by `mean_factor` (1 + 1/k for a mean estimated from k periods)."""
    x, m, raw, d, f = np.broadcast_arrays(
        np.asarray(count, dtype=float),
        np.asarray(mean, dtype=float),
        np.asarray(raw_dispersion, dtype=float),
        np.asarray(df, dtype=float),
        np.asarray(mean_factor, dtype=float),
    )
    total = np.full(x.shape, CHI2_UNCOVERED)
    if x.size == 0:
        return total
    for weight, phi in zip(CHI2_WEIGHTS, dispersion_draws(raw, d), strict=True):
        total += weight * nb_upper_tail(x, m, phi * f)
    return np.minimum(total, 1.0)


def effective_df(k: np.ndarray, mean: np.ndarray, raw_dispersion: np.ndarray) -> np.ndarray:
    """Degrees of freedom of the Pearson dispersion estimate from k counts (Satterthwaite).

    For normal data s^2 has k - 1; counts at low means are skewed and heavy-tailed, and their s^2 varies far
    more: var(s^2) = sigma^4 (2 / (k - 1) + kappa / k), kappa the excess kurtosis, which for a negative
    binomial of mean m and dispersion phi is (6 (phi - 1) + 1 / phi) / m (1 / m for Poisson)."""
    phi = np.maximum(1.0, raw_dispersion)
    kappa = (6 * (phi - 1) + 1 / phi) / np.maximum(mean, 1e-9)
    return np.clip(2 / (2 / (k - 1) + kappa / k), 1.0, k - 1)


def bh_adjust(p: np.ndarray, hypotheses: int | None = None) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values of `p` (statsmodels' "fdr_bh"), counting `hypotheses` tests in all
    (the others, not passed, had p = 1 and are never rejected). Written out because statsmodels' multipletests
    runs a full garbage collection on every call, which costs more than the whole test on a large process."""
    values = np.asarray(p, dtype=float)
    m = len(values) if hypotheses is None else hypotheses
    if m < len(values):
        raise ValueError(f"bh_adjust: {len(values)} p-values but only {m} hypotheses")
    if len(values) == 0:
        return values.copy()
    order = np.argsort(values)
    ranked = values[order] * m / np.arange(1, len(values) + 1)
    stepped = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    out = np.empty_like(stepped)
    out[order] = stepped
    return out


def upper_tail_p(count: float, expected: float, dispersion: float = 1.0) -> float:
    """P(X >= count) for a negative binomial with this mean and a known dispersion (floored at 1)."""
    if count <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    return float(nb_upper_tail(np.array([count]), np.array([expected]), np.array([max(1.0, dispersion)]))[0])


def flag_matrix(
    counts: np.ndarray,
    rule: AnomalyRule = DEFAULT_RULE,
    *,
    report: np.ndarray | None = None,
    fdr: bool = False,
) -> Flags:
    """The rule applied to every column of a (periods x series) matrix at once.

    Cells in the rows `report` marks (a boolean per period; every period when None) are tested, the others
    serve as baseline only. With `fdr`, the tested cells' p-values are adjusted together by Benjamini-Hochberg
    (every tested cell counts as a hypothesis, flagged or not) and a flag needs an adjusted p below rule.fdr
    too."""
    values = np.asarray(counts, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"flag_matrix: counts must be a (periods x series) matrix, got {values.ndim} dims")
    none = np.array([], dtype=float)
    if values.shape[0] == 0 or values.shape[1] == 0:
        return Flags(none.astype(int), none.astype(int), none, none, none, none)
    periods = values.shape[0]
    zero = np.zeros((1, values.shape[1]))
    csum = np.vstack([zero, np.cumsum(values, axis=0)])
    csq = np.vstack([zero, np.cumsum(values**2, axis=0)])
    t = np.arange(periods)
    lo = np.maximum(0, t - rule.window)
    k = (t - lo).astype(float)[:, None]  # baseline length per period
    total = csum[t] - csum[lo]
    squares = csq[t] - csq[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(k > 0, total / k, 0.0)
        var = np.where(k > 1, (squares - total**2 / np.maximum(k, 1)) / np.maximum(k - 1, 1), 0.0)
    rows = np.ones(periods, dtype=bool) if report is None else np.asarray(report, dtype=bool)
    if rows.shape != (periods,):
        raise ValueError(f"flag_matrix: report needs one flag per period ({periods}), got {rows.shape}")
    tested = (k >= rule.min_baseline) & (total >= rule.min_baseline_total) & rows[:, None]
    candidate = tested & (values >= rule.min_count) & (values >= rule.min_ratio * mean)
    ti, si = np.nonzero(candidate)
    x, m = values[ti, si], mean[ti, si]
    kk = k[ti, 0]
    raw = np.maximum(var[ti, si], 0.0) / m  # m > 0: the baseline holds at least min_baseline_total >= 1
    p = predictive_upper_tail(x, m, raw, effective_df(kk, m, raw), 1 + 1 / kk)
    adjusted = p.copy()
    if fdr and len(p):
        # Hypotheses = every tested cell; the ones that were never candidates have p = 1.
        adjusted = bh_adjust(p, hypotheses=int(tested.sum()))
    keep = (p < rule.alpha) & (adjusted < rule.fdr if fdr else True)
    return Flags(ti[keep], si[keep], x[keep], m[keep], p[keep], adjusted[keep])


def _frame(names: list[str], periods: list[Any], flags: Flags) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.round(flags.observed / flags.expected, 2)
    return pd.DataFrame(
        {
            "series": [names[i] for i in flags.series],
            "period": [periods[i] for i in flags.period],
            "count": flags.observed.astype("int64"),
            "expected": np.round(flags.expected, 1),
            "ratio": ratio,
            "p_value": flags.p_value,
            "adjusted_p": flags.adjusted_p,
        },
        columns=ANOMALY_COLUMNS,
    )


def flag_series(counts: pd.Series, rule: AnomalyRule = DEFAULT_RULE) -> pd.DataFrame:
    """Flag the periods of one series. `counts` is indexed by period, sorted, on a complete grid.
    Columns period, count, expected, ratio, p_value, adjusted_p (= p_value: one series, each period at alpha)."""
    flags = flag_matrix(counts.to_numpy(dtype=float)[:, None], rule)
    return _frame([""], list(counts.index), flags).drop(columns="series")


def flag_grid(
    series: dict[str, dict[Any, int]],
    grid: list[Any],
    rule: AnomalyRule = DEFAULT_RULE,
    *,
    report: list[Any] | None = None,
) -> pd.DataFrame:
    """Flags for named series given as {name: {period: count}} over the complete, sorted `grid` of periods.

    `report` (default: the whole grid) are the periods whose flags are shown: they form the family over which
    false flags are controlled (Benjamini-Hochberg at rule.fdr); other periods serve as baseline only.
    Returns columns series, period (Timestamp), count, expected, ratio, p_value, adjusted_p; newest first,
    then strongest."""
    names = list(series)
    if not grid or not names:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in ANOMALY_COLUMNS})
    row = {p: i for i, p in enumerate(grid)}
    matrix = np.zeros((len(grid), len(names)))
    for j, name in enumerate(names):
        for period, n in series[name].items():
            i = row.get(period)
            if i is not None:
                matrix[i, j] = n
    wanted = set() if report is None else set(report)
    shown = None if report is None else np.array([p in wanted for p in grid])
    flags = flag_matrix(matrix, rule, report=shown, fdr=True)
    df = _frame(names, list(pd.to_datetime(grid)), flags)
    df["period"] = pd.to_datetime(df["period"])
    return df.sort_values(["period", "p_value"], ascending=[False, True], ignore_index=True)


def flag_anomalies(
    long: pd.DataFrame,
    periods: list[pd.Timestamp] | pd.DatetimeIndex,
    *,
    series_col: str = "value",
    count_col: str = "n",
    rule: AnomalyRule = DEFAULT_RULE,
) -> pd.DataFrame:
    """Flags for every series of a long frame (series_col, period, count_col) over the complete `periods` grid.

    Returns columns series, period, count, expected, ratio, p_value, adjusted_p; newest first, then strongest.
    """
    grid = list(pd.DatetimeIndex(periods))
    series: dict[str, dict[Any, int]] = {}
    for name, period, n in long[[series_col, "period", count_col]].itertuples(index=False):
        bucket = series.setdefault(str(name), {})
        ts = pd.Timestamp(period)
        bucket[ts] = bucket.get(ts, 0) + int(n)
    return flag_grid(series, grid, rule)
