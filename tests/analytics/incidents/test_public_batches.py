"""Public data on the trend and the overview (issue 20, item 5): an import batch of public records (AVID published
434 reports in March 2026) is not an incident surge, so flags test institute reporting only; the all-time trend
starts where the data does, not at one record from 1983; the overview's category chart draws no 'Unmapped' bar
of public records that fit none of the categories and says how many it leaves out."""

from __future__ import annotations

from datetime import date

import pandas as pd

from analytics.filters import Filters
from analytics.incidents import charts as incident_charts
from analytics.incidents import explorer as incident_explorer
from analytics.incidents import overview as incident_overview
from tests.conftest import TODAY, UK_ANALYST


def _steady_reporting_and_a_public_batch(store) -> None:
    for month in range(1, 12):
        for k in range(10):
            store.incident(category="Jailbreak", occurred_on=date(2026, month, 1 + k))
    for k in range(120):  # one catalogue's batch, all dated in September
        store.incident(
            originator="PUBLIC",
            source="avid",
            tlp="CLEAR",
            category="Jailbreak",
            occurred_on=date(2026, 9, 1 + k % 28),
        )


def test_a_public_import_batch_is_not_flagged(store) -> None:
    _steady_reporting_and_a_public_batch(store)
    d = incident_explorer.explorer_summary(
        store.cursor(), UK_ANALYST, Filters(preset="12m"), TODAY, "month", "category"
    )
    assert d.anomalies.empty, d.anomalies
    assert int(d.totals["n"].sum()) == 110 + 120  # still counted and drawn
    ov = incident_overview.overview_summary(store.cursor(), UK_ANALYST, Filters(), TODAY)
    assert ov.anomalies.empty, ov.anomalies


def test_an_institute_surge_is_still_flagged_beside_public_data(store) -> None:
    _steady_reporting_and_a_public_batch(store)
    for k in range(25):
        store.incident(category="Jailbreak", occurred_on=date(2026, 10, 1 + k))
    d = incident_explorer.explorer_summary(
        store.cursor(), UK_ANALYST, Filters(preset="12m"), TODAY, "month", "category"
    )
    flagged = set(zip(d.anomalies["series"], d.anomalies["period"], d.anomalies["count"], strict=True))
    assert ("Jailbreak", pd.Timestamp(2026, 10, 1), 35) in flagged


def test_the_all_time_trend_starts_where_the_data_does(store) -> None:
    store.incident(originator="PUBLIC", source="aiid", tlp="CLEAR", occurred_on=date(1983, 9, 26))
    for month in range(1, 12):
        for k in range(10):
            store.incident(occurred_on=date(2024 + month % 3, month, 1 + k))
    d = incident_explorer.explorer_summary(store.cursor(), UK_ANALYST, Filters(), TODAY, "month", "category")
    assert d.totals["period"].min() >= pd.Timestamp(2024, 1, 1)
    assert d.not_drawn == 1 and d.drawn_from is not None and d.drawn_from.year == 2024
    assert d.headline.incidents == 111  # the figures still count it
    # a chosen period is drawn whole
    custom = Filters(preset="custom", date_from=date(1980, 1, 1), date_to=date(2026, 11, 20))
    d = incident_explorer.explorer_summary(store.cursor(), UK_ANALYST, custom, TODAY, "month", "category")
    assert d.totals["period"].min() == pd.Timestamp(1980, 1, 1) and d.not_drawn == 0


def test_the_overview_category_chart_leaves_unmapped_public_records_out_and_says_so() -> None:
    df = pd.DataFrame(
        {
            "originator": ["UK", "AU", "PUBLIC", "PUBLIC"],
            "category": ["Jailbreak", "Jailbreak", "Unmapped", "Jailbreak"],
            "incidents": [5, 4, 1370, 7],
        }
    )
    drawn, left_out = incident_charts.without_unmapped(df)
    assert left_out == 1370
    assert set(drawn["category"]) == {"Jailbreak"}
    fig = incident_charts.category_by_originator_chart(drawn)
    assert all("Unmapped" not in t.y for t in fig.data)


def test_the_chart_names_the_importers_unmapped_category() -> None:
    from analytics.ingest.atlas import UNMAPPED_CATEGORY

    assert incident_charts.UNMAPPED_CATEGORY == UNMAPPED_CATEGORY
