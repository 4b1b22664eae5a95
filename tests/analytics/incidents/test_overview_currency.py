"""The overview never reports a fall that is only missing data (issue 15, findings 2 and 3), on stores with known
answers: windows end on the day the data is complete to (the data's end less the 90th-percentile reporting lag),
the change compares lag-adjusted counts, month- and year-precision dates stay out of the day windows and the weekly
sparkline but count in the monthly flags, and each category's monthly grid starts at its own first record."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from analytics.filters import Filters
from analytics.incidents import overview as incident_overview
from tests.conftest import TODAY, UK_ANALYST


def bulk(store, rows: list[tuple[date, date]]) -> None:
    """Institute incidents (occurred, reported) in one statement: thousands of StoreBuilder inserts take long."""
    with store.store.transaction() as con:
        con.executemany(
            "insert into incidents (id, title, occurred_on, reported_on, originator, source, category, severity, "
            "tlp, releasable_to) values (?, 'x', ?, ?, 'UK', 'institute', 'Prompt injection', 3, 'GREEN', "
            "['AU', 'UK'])",
            [(f"B-{k}", occurred, reported) for k, (occurred, reported) in enumerate(rows)],
        )


def steady(store, first: date, last: date, per_day: int = 2, lags: tuple[int, ...] = (0,), **kw) -> None:
    """`per_day` incidents every day from `first` to `last`, reported after `lags` in turn."""
    k, d = 0, first
    while d <= last:
        for _ in range(per_day):
            store.incident(occurred_on=d, reported_on=d + timedelta(days=lags[k % len(lags)]), **kw)
            k += 1
        d += timedelta(days=1)


def test_data_ending_early_shows_no_fall(store) -> None:
    # The case: two a day, every day, until 16 days before today; reported 0..6 days later.
    steady(store, date(2026, 3, 1), TODAY - timedelta(days=16), lags=tuple(range(7)))
    ov = incident_overview.overview_summary(store.cursor(), UK_ANALYST, Filters(), TODAY)
    w30, w90 = ov.windows
    # Data to 10 Nov (the last report), 90% reported within 6 days: complete to 4 Nov.
    assert (w30.incidents, w30.prev_incidents) == (60, 60)
    assert (w90.incidents, w90.prev_incidents) == (180, 180)
    assert ov.currency.data_end == date(2026, 11, 10)
    assert ov.through == date(2026, 11, 4)
    assert w30.reported_share == pytest.approx(1.0) and w30.adjusted == pytest.approx(60)
    # The sparkline ends with the week holding the last complete day.
    assert ov.weekly["period"].iloc[-1] == pd.Timestamp(2026, 11, 2)


def test_the_change_compares_lag_adjusted_counts(store) -> None:
    # As a live feed looks on 20 Nov: twenty incidents a day since 1 Mar, one reported after each lag of 0..19
    # days, and only those reported by today are in the store. The last days are still filling in.
    rows = []
    d = date(2026, 3, 1)
    while d <= TODAY:
        rows += [(d, d + timedelta(days=lag)) for lag in range(20) if d + timedelta(days=lag) <= TODAY]
        d += timedelta(days=1)
    bulk(store, rows)

    # A record of lag l is in the store for the 265 - l days old enough: F(d) = sum_{l<=d} (265 - l) / 5110.
    def share(age: int) -> float:
        return sum(265 - lag for lag in range(min(age, 19) + 1)) / 5110

    ov = incident_overview.overview_summary(store.cursor(), UK_ANALYST, Filters(), TODAY)
    w30 = ov.windows[0]
    # Complete to 3 Nov (F(16) < 0.9 <= F(17)): 3 and 2 Nov (17 and 18 days old) have 18 and 19 of their 20,
    # the 28 days before all 20.
    assert (w30.incidents, w30.prev_incidents) == (18 + 19 + 28 * 20, 600)
    assert ov.currency.data_end == TODAY
    assert ov.through == date(2026, 11, 3)
    expected = sum(share(age) for age in range(17, 47)) / 30
    assert w30.reported_share == pytest.approx(expected)
    assert w30.prev_reported_share == pytest.approx(1.0)
    assert w30.adjusted == pytest.approx(597 / expected)
    assert w30.adjusted >= 0.995 * w30.prev_adjusted  # no fall that is only late reports


def test_imprecise_dates_stay_out_of_day_windows_and_weeks_but_count_by_month(store) -> None:
    steady(store, date(2026, 1, 1), TODAY, per_day=1)
    # Reports that know only the month: 8 on the 1st of each month from May to November (and one year-only).
    for month in range(5, 12):
        for _ in range(8):
            store.incident(category="Jailbreak", occurred_on=date(2026, month, 1), occurred_precision="month")
    store.incident(occurred_on=date(2026, 1, 1), occurred_precision="year")
    ov = incident_overview.overview_summary(store.cursor(), UK_ANALYST, Filters(), TODAY)
    w30 = ov.windows[0]
    assert (w30.incidents, w30.prev_incidents) == (30, 30)  # the 8 of 1 November are not in the day window
    assert ov.left_out == 8 * 6  # dated 1 Jun..1 Nov, inside the 180 days the windows compare
    # No week of the sparkline jumps by eight (the last week, 16..20 Nov, is partial).
    assert set(ov.weekly["n"].iloc[:-1]) == {7}
    # By month they count: Jailbreak has its eight in each month, and a new series is not a break.
    assert ov.anomalies.empty


def test_each_categorys_monthly_grid_starts_at_its_own_first_record(store) -> None:
    # Prompt injection every day since June 2025 (the first month the overview reads); Model theft appears in
    # October 2025 at one a month, then six in June 2026. Against its own eight months (one each) six is no
    # break; against a year padded with the four empty months before it began it would be flagged.
    steady(store, date(2025, 6, 1), TODAY, per_day=1)
    for first in [date(2025, m, 10) for m in (10, 11, 12)] + [date(2026, m, 10) for m in range(1, 6)]:
        store.incident(category="Model theft", occurred_on=first)
    for day in range(1, 7):
        store.incident(category="Model theft", occurred_on=date(2026, 6, day))
    ov = incident_overview.overview_summary(store.cursor(), UK_ANALYST, Filters(), TODAY)
    assert "Model theft" not in set(ov.anomalies["series"])
