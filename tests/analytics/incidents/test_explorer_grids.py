"""How the explorer's trend grids are built (issue 15, finding 3), on stores with known answers: records dated
only to the month stay out of weekly grids (and are counted as left out) but count by month; each series is
tested from its own first record; a period still in progress is never flagged."""

from __future__ import annotations

from datetime import date

import pandas as pd

from analytics.filters import Filters
from analytics.incidents import explorer as incident_explorer
from analytics.incidents import grids
from tests.analytics.incidents.test_overview_currency import steady
from tests.conftest import TODAY, UK_ANALYST

FIRST_HALF = Filters(preset="custom", date_from=date(2026, 1, 5), date_to=date(2026, 6, 28))


def test_month_precision_makes_no_weekly_spike_and_counts_by_month(store) -> None:
    steady(store, date(2025, 10, 6), date(2026, 6, 28), per_day=1)  # seven a week
    # Thirty reports a month that know only the month (written on the 1st), February to June.
    for month in range(2, 7):
        for _ in range(30):
            store.incident(occurred_on=date(2026, month, 1), occurred_precision="month")
    weekly = incident_explorer.explorer_summary(store.cursor(), UK_ANALYST, FIRST_HALF, TODAY, grain="week")
    assert weekly.anomalies.empty  # the weeks holding a 1st are not 37 against 7
    assert set(weekly.totals["n"]) == {7}
    assert weekly.imprecise == 150
    assert weekly.headline.incidents == 175 + 150  # every record counts in the range's total
    assert grids.left_out_note(weekly.imprecise, "week") == (
        "150 incidents dated only to the month or year left out of this weekly view; they count in the totals."
    )
    monthly = incident_explorer.explorer_summary(store.cursor(), UK_ANALYST, FIRST_HALF, TODAY, grain="month")
    assert monthly.imprecise == 0
    march = monthly.totals[monthly.totals["period"] == pd.Timestamp(2026, 3, 1)]
    assert int(march["n"].iloc[0]) == 31 + 30


def test_a_series_is_tested_from_its_own_first_record(store) -> None:
    steady(store, date(2025, 1, 1), date(2026, 10, 31), per_day=1)
    # Model theft: one a month from October 2025, then six in June 2026 (see the overview's twin test).
    for first in [date(2025, m, 10) for m in (10, 11, 12)] + [date(2026, m, 10) for m in range(1, 6)]:
        store.incident(category="Model theft", occurred_on=first)
    for day in range(1, 7):
        store.incident(category="Model theft", occurred_on=date(2026, 6, day))
    ex = incident_explorer.explorer_summary(store.cursor(), UK_ANALYST, Filters(), TODAY, grain="month")
    assert "Model theft" not in set(ex.anomalies["series"])


def test_a_period_in_progress_is_never_flagged(store) -> None:
    steady(store, date(2025, 1, 1), TODAY, per_day=1)
    for day in range(1, 11):  # a burst in the first ten days of November, a month not yet over on 20 November
        for _ in range(8):
            store.incident(occurred_on=date(2026, 11, day))
    ex = incident_explorer.explorer_summary(store.cursor(), UK_ANALYST, Filters(), TODAY, grain="month")
    assert bool(ex.totals["partial"].iloc[-1])
    assert pd.Timestamp(2026, 11, 1) not in set(ex.anomalies["period"])
    # Once the month is over it is tested, and the burst is a break.
    later = incident_explorer.explorer_summary(
        store.cursor(), UK_ANALYST, Filters(), date(2026, 12, 2), grain="month"
    )
    assert pd.Timestamp(2026, 11, 1) in set(later.anomalies["period"])


def test_periods_after_the_last_complete_day_are_partial_and_never_flagged(store) -> None:
    from analytics.incidents.currency import data_currency

    # Data that stops on 15 October (no report dates, so complete to its last occurrence), with a burst in
    # its first half: the explorer must draw October as partial and not test it, though the month is over.
    steady(store, date(2025, 1, 1), date(2026, 10, 15), per_day=1)
    for day in range(1, 11):
        for _ in range(8):
            store.incident(occurred_on=date(2026, 10, day))
    complete_to = data_currency(store.cursor(), UK_ANALYST, TODAY).complete_to
    assert complete_to == date(2026, 10, 15)
    ex = incident_explorer.explorer_summary(
        store.cursor(), UK_ANALYST, Filters(), TODAY, grain="month", data_end=complete_to
    )
    partial = dict(zip(ex.totals["period"], ex.totals["partial"], strict=True))
    assert partial[pd.Timestamp(2026, 10, 1)] and partial[pd.Timestamp(2026, 11, 1)]
    assert not partial[pd.Timestamp(2026, 9, 1)]
    assert pd.Timestamp(2026, 10, 1) not in set(ex.anomalies["period"])
