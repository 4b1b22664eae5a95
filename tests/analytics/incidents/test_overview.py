"""The overview's questions (analytics.incidents.overview) on the known rows: fixed 30/90-day windows, the
weekly sparkline, rising values guarded against small numbers, and the split of the sidebar's period."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from analytics.access.markings import Marking
from analytics.filters import Filters
from analytics.incidents import base as incident_base
from analytics.incidents import overview as incident_overview
from tests.analytics.incidents.test_incidents_explorer import records, seed_known_incidents
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST


@pytest.fixture
def known(store):
    seed_known_incidents(store)
    return store


def test_overview_windows_and_sparkline(known) -> None:
    ov = incident_overview.overview_summary(known.cursor(), UK_ANALYST, Filters(), TODAY)
    w30, w90 = ov.windows
    # The data the UK analyst sees runs to 2 November (T-0003; no report dates, so no lag): the windows end
    # there, not on today, so the 18 days without data are no fall. Last 30 days: 4 Oct..2 Nov.
    assert ov.through == date(2026, 11, 2)
    assert (w30.incidents, w30.prev_incidents, w30.high, w30.prev_high) == (3, 0, 2, 0)
    assert (w90.incidents, w90.prev_incidents, w90.high, w90.prev_high) == (3, 2, 2, 1)
    assert w90.high_share == 2 / 3
    assert len(ov.weekly) == incident_overview.SPARK_WEEKS
    assert ov.weekly["period"].iloc[-1] == pd.Timestamp(2026, 11, 2)
    assert int(ov.weekly["n"].sum()) == 5
    assert ov.rising_categories.empty and ov.rising_sectors.empty  # tiny numbers make no trend
    assert ov.marking.tlp == "AMBER"
    au = incident_overview.overview_summary(known.cursor(), AU_ANALYST, Filters(originators=("AU",)), TODAY)
    assert (au.windows[1].incidents, au.windows[1].prev_incidents) == (2, 1)  # T-0002, T-0006; T-0004
    assert au.marking == Marking("AMBER+STRICT", ("AU",), 3, ("institute",))


def test_rising_lists_only_material_rises_that_are_not_chance() -> None:
    # The method (analytics.stats.rising) is tested by simulation in tests/analytics/stats/test_rising.py;
    # here the overview's function delegates to it. Before issue 15 "tiny", "new" (12 against 0) and a
    # 1.3x rise at large counts were listed: a z of 2 against no change, uncorrected across values.
    steady = [(f"steady {i}", 100 + 3 * i, 97 + 3 * ((i * 5) % 4)) for i in range(8)]
    df = pd.DataFrame(
        [
            ("tiny", 9, 1),
            *steady,
            ("big rise", 150, 30),
            ("growing", 390, 300),
            ("new", 12, 0),
            ("fall", 10, 40),
        ],
        columns=["value", "n", "prev"],
    )
    out = incident_overview.rising(df)
    assert out["value"].tolist() == ["big rise"]
    assert out["change"].iloc[0] == 4.0 and out["ratio"].iloc[0] == 5.0
    assert out["p_value"].iloc[0] <= out["adjusted_p"].iloc[0] < 0.05
    # The overview's two tables share the page's 5%: each adjusted p is doubled.
    both = incident_overview.rising(df, tables=2)
    assert both["adjusted_p"].iloc[0] == pytest.approx(2 * out["adjusted_p"].iloc[0])


def test_overview_splits_the_sidebar_period_by_category(known) -> None:
    all_time = incident_overview.overview_summary(known.cursor(), UK_ANALYST, Filters(), TODAY)
    assert records(all_time.by_category.data) == [
        ("AU", "Jailbreak", 1),
        ("AU", "Prompt injection", 1),
        ("UK", "Prompt injection", 2),
        ("UK", "Data poisoning", 1),
        ("UK", "Jailbreak", 1),
    ]
    assert all_time.by_category.marking.tlp == "AMBER" and all_time.by_category.marking.rows == 6
    old = Filters(preset="custom", date_from=date(2025, 1, 1), date_to=date(2025, 1, 31))
    ov = incident_overview.overview_summary(known.cursor(), UK_ANALYST, old, TODAY)
    assert records(ov.by_category.data) == [("UK", "Prompt injection", 1)]  # T-0008 only
    assert ov.by_category.marking == Marking("GREEN", ("AU", "UK"), 1, ("institute",))
    assert ov.windows[1].incidents == 3  # the fixed windows ignore the sidebar's period
    same = incident_base.counts_by_originator_and_category(known.cursor(), UK_ANALYST, Filters(), TODAY)
    assert sorted(records(same.data)) == sorted(records(all_time.by_category.data))
