"""The anomaly rule on hand-made series: spikes are flagged, growth, noise, tiny numbers and thin baselines are
not. Its error rates are proven by simulation in test_anomalies_calibration.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson
from statsmodels.stats.multitest import multipletests

from analytics.stats.anomalies import (
    DEFAULT_RULE,
    AnomalyRule,
    bh_adjust,
    flag_anomalies,
    flag_grid,
    flag_series,
    upper_tail_p,
)


def series(values: list[int], start: str = "2026-01-01", freq: str = "MS") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq=freq))


def test_upper_tail_matches_the_poisson_distribution() -> None:
    for x, lam in [(5, 2.0), (20, 10.0), (1, 0.5)]:
        assert upper_tail_p(x, lam) == pytest.approx(poisson.sf(x - 1, lam), rel=1e-9)
    assert upper_tail_p(0, 3.0) == 1.0
    assert upper_tail_p(4, 0.0) == 0.0  # something where there was nothing
    # over-dispersion makes the same count less surprising
    assert upper_tail_p(20, 10.0, dispersion=4.0) > upper_tail_p(20, 10.0)


def test_a_planted_spike_is_flagged_with_its_baseline() -> None:
    flags = flag_series(series([10, 12, 9, 11, 10, 8, 11, 40, 12]))
    assert flags["period"].tolist() == [pd.Timestamp("2026-08-01")]
    row = flags.iloc[0]
    baseline = [10, 12, 9, 11, 10, 8, 11]  # the seven months before (window 12, all there is)
    assert row["count"] == 40
    assert row["expected"] == pytest.approx(np.mean(baseline), abs=0.05)
    assert row["ratio"] == pytest.approx(40 / np.mean(baseline), abs=0.01)
    assert row["p_value"] < DEFAULT_RULE.alpha


def test_steady_growth_and_noise_are_not_flagged() -> None:
    rng = np.random.default_rng(3)
    growing = [int(v) for v in rng.poisson(1000 * 1.03 ** np.arange(48))]
    assert flag_series(series(growing)).empty
    noisy = [int(v) for v in rng.poisson(20, size=60)]
    assert flag_series(series(noisy)).empty


def test_tiny_numbers_never_make_a_flag() -> None:
    assert flag_series(series([1, 0, 1, 0, 1, 0, 1, 0, 4])).empty  # 4 < min_count
    # Something where there was (almost) nothing: a baseline of fewer than 5 incidents says nothing about how
    # bursty the series is, so it is not tested (a new series starts its own grid at its first record).
    assert flag_series(series([0, 0, 0, 0, 0, 0, 6])).empty
    assert flag_series(series([0, 1, 0, 1, 0, 1, 0, 1, 30])).empty
    sparse = flag_series(series([1, 0, 1, 1, 0, 1, 1, 0, 1, 30]))  # 6 in the baseline: tested, and flagged
    assert sparse["count"].tolist() == [30]
    assert sparse["ratio"].iloc[0] == pytest.approx(30 / (6 / 9), abs=0.01)


def test_an_effect_size_is_required_as_well_as_significance() -> None:
    # 1,200 against a baseline of 1,000 is "significant" but only 1.2x: not flagged.
    assert flag_series(series([1000, 1000, 1000, 1000, 1000, 1000, 1200])).empty
    assert not flag_series(series([1000, 1000, 1000, 1000, 1000, 1000, 1600])).empty


def test_a_short_baseline_is_not_enough() -> None:
    # Five periods cannot say how bursty a series is: not tested at all; six can.
    assert flag_series(series([2, 2, 2, 2, 2, 30])).empty
    assert not flag_series(series([2, 2, 2, 2, 2, 2, 30])).empty
    lenient = AnomalyRule(min_baseline=3)
    assert not flag_series(series([2, 2, 2, 30]), lenient).empty
    with pytest.raises(ValueError, match="min_baseline"):
        AnomalyRule(min_baseline=1)


def test_a_bursty_baseline_makes_the_same_count_less_surprising() -> None:
    calm = flag_series(series([10, 11, 9, 10, 10, 11, 9, 10, 30]))
    bursty = flag_series(series([3, 20, 2, 15, 4, 18, 1, 17, 30]))  # same mean, variance ~60x the mean
    assert calm["count"].tolist() == [30]
    assert bursty.empty


def test_flag_anomalies_fills_missing_periods_with_zeros_and_orders_newest_first() -> None:
    grid = pd.date_range("2026-01-01", periods=10, freq="MS")
    long = pd.DataFrame(
        {
            "value": ["a"] * 7 + ["b"] * 9,
            "period": list(grid[[0, 1, 2, 3, 4, 5, 6]]) + list(grid[[0, 1, 2, 3, 4, 5, 6, 7, 9]]),
            "n": [3, 3, 3, 3, 3, 3, 30, 5, 5, 5, 5, 5, 5, 5, 5, 50],
        }
    )
    flags = flag_anomalies(long, grid)
    assert flags[["series", "period", "count"]].values.tolist() == [
        ["b", grid[9], 50],
        ["a", grid[6], 30],
    ]
    assert flag_anomalies(long.iloc[0:0], grid).empty


def test_flag_grid_tests_only_the_reported_periods_and_adjusts_across_them() -> None:
    grid = list(pd.date_range("2025-01-01", periods=16, freq="MS"))
    steady = [10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 11, 9, 10, 10, 11, 10]
    spiked = {8: 40, 14: 40}
    series = {name: dict(zip(grid, steady, strict=True)) for name in ("a", "b", "c")}
    series["a"][grid[14]] = series["b"][grid[14]] = 40
    series["c"][grid[8]] = 40
    everything = flag_grid(series, grid)
    assert sorted(everything["period"].unique()) == [grid[i] for i in spiked]
    shown = flag_grid(series, grid, report=grid[12:])  # the spike in month 8 is baseline only: not reported
    assert shown[["series", "period"]].values.tolist() == [["a", grid[14]], ["b", grid[14]]]
    assert (shown["adjusted_p"] >= shown["p_value"]).all()
    # Benjamini-Hochberg over the 3 series x 4 reported months: the larger of the two p's times 12 / 2.
    assert shown["adjusted_p"].max() == pytest.approx(shown["p_value"].max() * 12 / 2)
    alone = flag_series(pd.Series(series["a"]))
    assert alone["p_value"].tolist() == pytest.approx(alone["adjusted_p"].tolist())


def test_benjamini_hochberg_matches_statsmodels() -> None:
    rng = np.random.default_rng(12)
    p = rng.uniform(0, 0.05, size=40) ** 2
    assert bh_adjust(p) == pytest.approx(multipletests(p, method="fdr_bh")[1])
    # Hypotheses not passed (never candidates) count with p = 1.
    padded = np.concatenate([p, np.ones(60)])
    assert bh_adjust(p, hypotheses=100) == pytest.approx(multipletests(padded, method="fdr_bh")[1][:40])
    with pytest.raises(ValueError, match="hypotheses"):
        bh_adjust(p, hypotheses=10)
