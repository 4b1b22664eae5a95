"""Calendar arithmetic: period starts agree with DuckDB's date_trunc, ends fall on the last day (leap years
included), grids cover their range, and months back clamp to the month's end."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from analytics import periods


@pytest.mark.parametrize("grain", periods.GRAINS)
def test_period_start_agrees_with_duckdb_date_trunc(grain: str) -> None:
    # The SQL groups rows by date_trunc(grain, occurred_on); Python builds the grid the groups land on.
    days = [date(2023, 12, 1) + timedelta(days=k) for k in range(500)]
    con = duckdb.connect()
    truncated = con.execute(
        f"select date_trunc('{grain}', d)::date from unnest(?::date[]) t(d) order by d", [days]
    ).fetchall()
    assert [periods.period_start(d, grain) for d in days] == [t for (t,) in truncated]


@pytest.mark.parametrize(
    ("day", "start"),
    [
        (date(2026, 11, 23), date(2026, 11, 23)),  # a Monday starts its own week
        (date(2026, 11, 29), date(2026, 11, 23)),  # a Sunday belongs to the week begun the Monday before
        (date(2026, 1, 1), date(2025, 12, 29)),  # a week may start in the previous year
    ],
)
def test_weeks_start_on_monday(day: date, start: date) -> None:
    assert periods.period_start(day, "week") == start


@pytest.mark.parametrize(
    ("start", "grain", "end"),
    [
        (date(2024, 2, 1), "month", date(2024, 2, 29)),  # leap year
        (date(2025, 2, 1), "month", date(2025, 2, 28)),
        (date(2100, 2, 1), "month", date(2100, 2, 28)),  # divisible by 100, not by 400: not a leap year
        (date(2000, 2, 1), "month", date(2000, 2, 29)),  # divisible by 400: a leap year
        (date(2026, 12, 1), "month", date(2026, 12, 31)),  # across the year end
        (date(2026, 4, 1), "month", date(2026, 4, 30)),
        (date(2026, 10, 1), "quarter", date(2026, 12, 31)),
        (date(2024, 1, 1), "quarter", date(2024, 3, 31)),
        (date(2026, 12, 28), "week", date(2027, 1, 3)),
        (date(2026, 11, 15), "month", date(2026, 11, 30)),  # a day inside the period: the end of its period
    ],
)
def test_period_end_is_the_last_day(start: date, grain: str, end: date) -> None:
    assert periods.period_end(start, grain) == end


@pytest.mark.parametrize(
    ("start", "grain", "n", "moved"),
    [
        (date(2026, 11, 1), "month", -12, date(2025, 11, 1)),
        (date(2026, 11, 1), "month", 2, date(2027, 1, 1)),
        (date(2026, 10, 1), "quarter", 1, date(2027, 1, 1)),
        (date(2026, 1, 1), "quarter", -1, date(2025, 10, 1)),
        (date(2026, 11, 23), "week", -26, date(2026, 5, 25)),
    ],
)
def test_shift_moves_by_whole_periods(start: date, grain: str, n: int, moved: date) -> None:
    assert periods.shift(start, grain, n) == moved


def test_period_grid_covers_first_to_last_inclusive() -> None:
    assert periods.period_grid(date(2025, 11, 15), date(2026, 2, 1), "month") == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert periods.period_grid(date(2026, 3, 31), date(2026, 4, 1), "quarter") == [
        date(2026, 1, 1),
        date(2026, 4, 1),
    ]
    weeks = periods.period_grid(date(2026, 11, 29), date(2026, 12, 7), "week")
    assert weeks == [date(2026, 11, 23), date(2026, 11, 30), date(2026, 12, 7)]
    assert periods.period_grid(date(2026, 5, 1), date(2026, 4, 1), "month") == []


@pytest.mark.parametrize(
    ("day", "months", "back"),
    [
        (date(2026, 11, 27), 12, date(2025, 11, 27)),
        (date(2024, 2, 29), 12, date(2023, 2, 28)),  # no 29 February a year before a leap day
        (date(2026, 3, 31), 1, date(2026, 2, 28)),  # clamped to the shorter month's end
        (date(2024, 3, 31), 1, date(2024, 2, 29)),
        (date(2026, 1, 15), 1, date(2025, 12, 15)),  # across the year end
    ],
)
def test_months_back_clamps_to_the_month_end(day: date, months: int, back: date) -> None:
    assert periods.months_back(day, months) == back


@pytest.mark.parametrize("call", [periods.period_start, periods.period_end])
def test_an_unknown_grain_is_refused_by_name(call) -> None:
    with pytest.raises(ValueError, match="'fortnight'"):
        call(date(2026, 1, 1), "fortnight")
    with pytest.raises(ValueError, match="'fortnight'"):
        periods.shift(date(2026, 1, 1), "fortnight", 1)


# "Today" is the viewer's institute's calendar day (issue 15, finding 9): the server's local date left AU users a
# day behind for ten hours of their working day.
@pytest.mark.parametrize(
    ("institute", "now", "today"),
    [
        # 23:30 UTC on 20 November is 10:30 on 21 November in Canberra (AEDT, UTC+11).
        ("AU", datetime(2026, 11, 20, 23, 30, tzinfo=UTC), date(2026, 11, 21)),
        ("AU", datetime(2026, 11, 20, 12, 59, tzinfo=UTC), date(2026, 11, 20)),
        # London is on GMT in November (same day) and BST in July (already the next day).
        ("UK", datetime(2026, 11, 20, 23, 30, tzinfo=UTC), date(2026, 11, 20)),
        ("UK", datetime(2026, 7, 20, 23, 30, tzinfo=UTC), date(2026, 7, 21)),
        # Joint staff belong to neither institute: UTC, as the page says.
        ("JOINT", datetime(2026, 11, 20, 23, 30, tzinfo=UTC), date(2026, 11, 20)),
    ],
)
def test_today_is_the_viewers_institute_day(institute: str, now: datetime, today: date) -> None:
    assert periods.today_for(institute, now=now) == today


def test_a_pinned_today_wins_and_a_bad_one_is_refused_by_name() -> None:
    late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    assert periods.today_for("AU", now=late, pinned="2026-11-20") == date(2026, 11, 20)
    with pytest.raises(ValueError, match=r"THREAT_TODAY.*'20/11/2026'"):
        periods.today_for("AU", now=late, pinned="20/11/2026")
    with pytest.raises(ValueError, match="naive"):
        periods.today_for("AU", now=datetime(2026, 11, 20, 23, 30))


def test_the_time_zone_is_named_for_the_page() -> None:
    assert periods.time_zone("AU") == "Australia/Canberra"
    assert periods.time_zone("UK") == "Europe/London"
    assert periods.time_zone("JOINT") == "UTC"
