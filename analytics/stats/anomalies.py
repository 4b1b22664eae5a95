"""Flags for periods whose incident count breaks from its recent baseline (the "what's new" list).

The method, in words (docs/incident-analysis.md has the reasoning):

- Each series (all incidents, or one value of the split dimension such as one category) is a count per period
  on a complete grid of periods (missing periods are zeros).
- The baseline of period t is the `window` periods just before it (six by default). Its mean m is the expected
  count; its variance s² gives an over-dispersion factor φ = max(1, s²/m), because real incident counts vary
  more than a Poisson process would (reporting comes in bursts).
- The count x is tested against a quasi-Poisson model: p = P(X ≥ x/φ) for X ~ Poisson(m/φ), computed with the
  regularised incomplete gamma function so x/φ need not be an integer.
- A period is flagged only if all of these hold: p < `alpha` (0.001), x ≥ `min_count` (5 incidents: tiny
  numbers never make a trend), x ≥ `min_ratio` × m (1.5×: at 100k+ incidents almost any wobble is
  "significant", so an effect size is required too), and at least `min_baseline` (3) baseline periods exist.
- Only rises are flagged. Drops mostly mean late reporting (the current period is always partial), and
  flagging them would fill the list with noise.

Pure functions on small aggregated DataFrames; no data access, so it is tested on hand-made series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammainc


@dataclass(frozen=True)
class AnomalyRule:
    window: int = 6
    min_baseline: int = 3
    min_count: int = 5
    min_ratio: float = 1.5
    alpha: float = 0.001

    def describe(self) -> str:
        return (
            f"A period is flagged when its count is at least {self.min_count}, at least {self.min_ratio:g}× "
            f"the mean of the previous {self.window} periods, and a quasi-Poisson test against that baseline "
            f"gives p < {self.alpha:g} (variance taken from the baseline itself)."
        )


DEFAULT_RULE = AnomalyRule()

ANOMALY_COLUMNS = ["series", "period", "count", "expected", "ratio", "p_value"]


def upper_tail_p(count: float, expected: float, dispersion: float = 1.0) -> float:
    """P(X ≥ count) under a quasi-Poisson with this mean and dispersion (φ ≥ 1)."""
    if count <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    phi = max(1.0, dispersion)
    # P(X >= k) for X ~ Poisson(lam) is the regularised lower incomplete gamma P(k, lam).
    return float(gammainc(count / phi, expected / phi))


def _flag_matrix(
    counts: np.ndarray, rule: AnomalyRule
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rule applied to every column of a (periods × series) matrix at once.

    Returns the period index, series index, count, baseline mean and p-value of every flagged cell."""
    values = np.asarray(counts, dtype=float)
    if values.ndim != 2 or values.shape[0] == 0:
        empty = np.array([], dtype=float)
        return empty.astype(int), empty.astype(int), empty, empty, empty
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
        var = np.where(k > 1, (squares - total**2 / k) / (k - 1), mean)
        candidate = (k >= rule.min_baseline) & (values >= rule.min_count) & (values >= rule.min_ratio * mean)
    ti, si = np.nonzero(candidate)
    x, m, v = values[ti, si], mean[ti, si], np.maximum(var[ti, si], 0.0)
    phi = np.where(m > 0, np.maximum(1.0, v / np.where(m > 0, m, 1.0)), 1.0)
    # P(X >= x) for X ~ Poisson(lam) is the regularised lower incomplete gamma P(x, lam); scaled by phi.
    p = np.where(m > 0, gammainc(x / phi, np.where(m > 0, m, 1.0) / phi), 0.0)
    keep = p < rule.alpha
    return ti[keep], si[keep], x[keep], m[keep], p[keep]


def _frame(names: list[str], periods: list[Any], flags: tuple[np.ndarray, ...]) -> pd.DataFrame:
    ti, si, x, m, p = flags
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(m > 0, np.round(x / np.where(m > 0, m, 1.0), 2), np.inf)
    return pd.DataFrame(
        {
            "series": [names[i] for i in si],
            "period": [periods[i] for i in ti],
            "count": x.astype("int64"),
            "expected": np.round(m, 1),
            "ratio": ratio,
            "p_value": p,
        },
        columns=ANOMALY_COLUMNS,
    )


def flag_series(counts: pd.Series, rule: AnomalyRule = DEFAULT_RULE) -> pd.DataFrame:
    """Flag the periods of one series. `counts` is indexed by period, sorted, on a complete grid.
    Columns period, count, expected, ratio (inf when the baseline is zero), p_value."""
    flags = _flag_matrix(counts.to_numpy(dtype=float)[:, None], rule)
    return _frame([""], list(counts.index), flags).drop(columns="series")


def flag_grid(
    series: dict[str, dict[Any, int]], grid: list[Any], rule: AnomalyRule = DEFAULT_RULE
) -> pd.DataFrame:
    """Flags for named series given as {name: {period: count}} over the complete, sorted `grid` of periods.

    Returns columns series, period (Timestamp), count, expected, ratio (NaN for a zero baseline), p_value;
    newest first, then strongest."""
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
    df = _frame(names, list(pd.to_datetime(grid)), _flag_matrix(matrix, rule))
    df["period"] = pd.to_datetime(df["period"])
    df["ratio"] = df["ratio"].replace(np.inf, np.nan)
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

    Returns columns series, period, count, expected, ratio, p_value; newest first, then strongest.
    """
    grid = list(pd.DatetimeIndex(periods))
    series: dict[str, dict[Any, int]] = {}
    for name, period, n in long[[series_col, "period", count_col]].itertuples(index=False):
        bucket = series.setdefault(str(name), {})
        ts = pd.Timestamp(period)
        bucket[ts] = bucket.get(ts, 0) + int(n)
    return flag_grid(series, grid, rule)
