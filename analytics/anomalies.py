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


def flag_series(counts: pd.Series, rule: AnomalyRule = DEFAULT_RULE) -> pd.DataFrame:
    """Flag the periods of one series. `counts` is indexed by period, sorted, on a complete grid."""
    values = counts.to_numpy(dtype=float)
    rows = []
    for t in range(len(values)):
        lo = max(0, t - rule.window)
        base = values[lo:t]
        if len(base) < rule.min_baseline:
            continue
        x = values[t]
        m = float(base.mean())
        if x < rule.min_count or x < rule.min_ratio * m:
            continue
        var = float(base.var(ddof=1)) if len(base) > 1 else m
        phi = var / m if m > 0 else 1.0
        p = upper_tail_p(x, m, phi)
        if p < rule.alpha:
            rows.append(
                {
                    "period": counts.index[t],
                    "count": int(x),
                    "expected": round(m, 1),
                    "ratio": round(x / m, 2) if m > 0 else float("inf"),
                    "p_value": p,
                }
            )
    return pd.DataFrame(rows, columns=ANOMALY_COLUMNS[1:])


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
    grid = pd.DatetimeIndex(periods)
    out = []
    if len(grid) and not long.empty:
        wide = long.pivot_table(
            index="period", columns=series_col, values=count_col, aggfunc="sum", fill_value=0
        ).reindex(grid, fill_value=0)
        for name in wide.columns:
            flags = flag_series(wide[name], rule)
            if not flags.empty:
                flags.insert(0, "series", str(name))
                out.append(flags)
    if not out:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in ANOMALY_COLUMNS})
    df = pd.concat(out, ignore_index=True)
    df["ratio"] = df["ratio"].replace(np.inf, np.nan)
    return df.sort_values(["period", "p_value"], ascending=[False, True], ignore_index=True)
