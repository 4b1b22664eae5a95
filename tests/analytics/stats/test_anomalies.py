"""The anomaly rule on hand-made series: spikes are flagged, growth, noise and tiny numbers are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson

from analytics.stats.anomalies import AnomalyRule, flag_anomalies, flag_series, upper_tail_p


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
    assert row["count"] == 40
    assert row["expected"] == pytest.approx(np.mean([12, 9, 11, 10, 8, 11]), abs=0.05)
    assert row["ratio"] == pytest.approx(40 / np.mean([12, 9, 11, 10, 8, 11]), abs=0.01)


def test_steady_growth_and_noise_are_not_flagged() -> None:
    rng = np.random.default_rng(3)
    growing = [int(v) for v in rng.poisson(1000 * 1.03 ** np.arange(48))]
    assert flag_series(series(growing)).empty
    noisy = [int(v) for v in rng.poisson(20, size=60)]
    assert flag_series(series(noisy)).empty


def test_tiny_numbers_never_make_a_flag() -> None:
    assert flag_series(series([0, 0, 0, 0, 0, 0, 4])).empty  # 4 < min_count
    new = flag_series(series([0, 0, 0, 0, 0, 0, 6]))
    assert new["count"].tolist() == [6]
    assert new["ratio"].iloc[0] == np.inf  # something where there was nothing


def test_an_effect_size_is_required_as_well_as_significance() -> None:
    # 1,200 against a baseline of 1,000 is "significant" but only 1.2x: not flagged.
    assert flag_series(series([1000, 1000, 1000, 1000, 1000, 1000, 1200])).empty
    assert not flag_series(series([1000, 1000, 1000, 1000, 1000, 1000, 1600])).empty


def test_a_short_baseline_is_not_enough() -> None:
    assert flag_series(series([2, 2, 30])).empty
    assert not flag_series(series([2, 2, 2, 30])).empty
    lenient = AnomalyRule(min_baseline=2)
    assert not flag_series(series([2, 2, 30]), lenient).empty


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
