"""How current the incident data is (analytics.incidents.currency), on known rows: the last occurred and reported
date per series (institute reporting, each public source), the measured reporting lag, the day the counts are
complete to, and the share of a window expected to be reported by the data's end. Markings apply: a record the
viewer may not see moves no date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from analytics.incidents import currency
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST


def _lagged(store, start: date, days: int, lags: list[int], **kw) -> None:
    """Two incidents a day from `start` for `days` days, reported after the lags in turn."""
    k = 0
    for d in range(days):
        for _ in range(2):
            occurred = start + timedelta(days=d)
            store.incident(
                occurred_on=occurred, reported_on=occurred + timedelta(days=lags[k % len(lags)]), **kw
            )
            k += 1


def test_lag_quantiles_and_the_complete_to_day(store) -> None:
    # Lags 0..9 days in equal shares: median 4 (half reported within 4 days), 90% within 8 days.
    _lagged(store, date(2026, 9, 1), 60, list(range(10)))
    cur = currency.data_currency(store.cursor(), UK_ANALYST, TODAY)
    inst = cur.primary
    assert inst is not None and inst.key == currency.INSTITUTE and inst.records == 120
    assert inst.last_occurred == date(2026, 10, 30)
    assert inst.last_reported == date(2026, 10, 30) + timedelta(days=9)  # the last day's later report
    assert (inst.lag_quantile(0.5), inst.lag_quantile(0.9)) == (4, 8)
    assert cur.data_end == date(2026, 11, 8)
    assert cur.complete_to == date(2026, 10, 31)  # 8 days before the data's end
    assert inst.reported_share(3) == pytest.approx(0.4)  # lags 0..3 of 0..9
    # Incidents of 1..2 Nov: by 8 Nov they are 7 and 6 days old, so 8/10 and 7/10 of them are reported.
    assert cur.completeness(date(2026, 11, 1), date(2026, 11, 2)) == pytest.approx(0.75)
    assert cur.completeness(date(2026, 10, 1), date(2026, 10, 30)) == pytest.approx(1.0)
    assert cur.describe() == (
        "Data to 8 Nov 2026 (institute reporting), reported 4 days after occurrence at the median."
    )


def test_public_sources_are_their_own_series_and_markings_apply(store) -> None:
    _lagged(store, date(2026, 10, 1), 10, [3])
    store.incident(
        originator="PUBLIC",
        source="aiid",
        tlp="CLEAR",
        occurred_on=date(2025, 6, 1),
        occurred_precision="month",
    )
    store.incident(originator="PUBLIC", source="atlas", tlp="CLEAR", occurred_on=date(2024, 3, 12))
    # An AU-only record, later than everything else: the UK analyst's currency must not move for it.
    store.incident(
        originator="AU",
        tlp="AMBER+STRICT",
        releasable_to=["AU"],
        occurred_on=date(2026, 11, 19),
        reported_on=date(2026, 11, 19),
    )
    uk = currency.data_currency(store.cursor(), UK_ANALYST, TODAY)
    assert [s.key for s in uk.series] == ["institute", "aiid", "atlas"]
    assert uk.data_end == date(2026, 10, 13)
    assert uk.describe() == (
        "Data to 13 Oct 2026 (institute reporting), reported 3 days after occurrence at the median; "
        "AI Incident Database to Jun 2025; MITRE ATLAS to 12 Mar 2024."
    )
    au = currency.data_currency(store.cursor(), AU_ANALYST, TODAY)
    assert au.data_end == date(2026, 11, 19)


def test_without_report_dates_the_lag_is_unmeasured_and_the_data_ends_at_its_last_occurrence(store) -> None:
    store.incident(occurred_on=date(2026, 11, 4))
    store.incident(
        occurred_on=date(2026, 12, 30)
    )  # a date after today (a typo) never moves the end past today
    cur = currency.data_currency(store.cursor(), UK_ANALYST, TODAY)
    assert cur.data_end == TODAY and cur.complete_to == TODAY
    assert cur.primary is not None and cur.primary.lag_quantile(0.5) is None
    assert cur.completeness(date(2026, 11, 1), TODAY) == 1.0
    assert "no report dates to measure the reporting lag" in cur.describe()


def test_an_empty_store_says_so(store) -> None:
    cur = currency.data_currency(store.cursor(), UK_ANALYST, TODAY)
    assert cur.primary is None and cur.data_end is None and cur.complete_to == TODAY
    assert cur.describe() == "No incidents you may see yet."
