"""Calendar arithmetic: period starts and ends, moving by whole periods, period grids, months back.

Why a module of its own: the sidebar's presets (`filters`), the explorer's and overview's period grids
(`incidents`) and the chart's click ranges (`incidents.charts`) all reason about the same weeks, months and
quarters. Held in one place, a change to what a "period" means lands once, and every grid a chart draws
lines up with the groups the SQL makes (`date_trunc(grain, ...)`: weeks start on Monday, as in DuckDB).
"Today" is here too: every window ends on it, and it is the viewer's institute's calendar day (`today_for`),
not the server's, so an Australian analyst at 09:00 in Canberra is not shown yesterday's figures.
Pure functions of dates; no data access.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

# Period lengths the trend can be drawn in; each is also the DuckDB `date_trunc` part (a fixed string).
GRAINS: tuple[str, ...] = ("week", "month", "quarter")
_MONTHS = {"month": 1, "quarter": 3}


def _check(grain: str) -> None:
    if grain not in GRAINS:
        raise ValueError(f"unknown period length {grain!r}: expected one of {', '.join(GRAINS)}")


def period_start(d: date, grain: str) -> date:
    """The first day of the period holding `d` (weeks start on Monday, as DuckDB's date_trunc)."""
    _check(grain)
    if grain == "week":
        return d - timedelta(days=d.weekday())
    if grain == "month":
        return d.replace(day=1)
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def shift(start: date, grain: str, n: int) -> date:
    """`start` (a period start) moved by `n` whole periods, back when `n` is negative."""
    _check(grain)
    if grain == "week":
        return start + timedelta(weeks=n)
    y, m = divmod(start.year * 12 + start.month - 1 + n * _MONTHS[grain], 12)
    return date(y, m + 1, 1)


def period_end(d: date, grain: str) -> date:
    """The last day of the period holding `d`."""
    return shift(period_start(d, grain), grain, 1) - timedelta(days=1)


def period_grid(first: date, last: date, grain: str) -> list[date]:
    """Starts of every period from the one holding `first` to the one holding `last`, inclusive."""
    out, p = [], period_start(first, grain)
    end = period_start(last, grain)
    while p <= end:
        out.append(p)
        p = shift(p, grain, 1)
    return out


def months_back(d: date, months: int) -> date:
    """The same day `months` calendar months before `d`, clamped to that month's last day (31 March -> 28 or
    29 February)."""
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    m += 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


# The calendar each institute works in. JOINT staff (and anyone else) belong to neither: UTC, and pages say so.
INSTITUTE_TIME_ZONES: dict[str, str] = {"UK": "Europe/London", "AU": "Australia/Canberra"}
UTC_ZONE = "UTC"


def time_zone(institute: str) -> str:
    """The IANA time zone whose calendar day is `institute`'s "today"."""
    return INSTITUTE_TIME_ZONES.get(institute, UTC_ZONE)


def today_for(institute: str, *, now: datetime | None = None, pinned: str | None = None) -> date:
    """Today in `institute`'s time zone at the instant `now` (aware; the real clock when omitted), or the
    `pinned` ISO date (THREAT_TODAY, which fixes "today" for demos and tests) when one is given."""
    if pinned:
        try:
            return date.fromisoformat(pinned)
        except ValueError:
            raise ValueError(f"THREAT_TODAY must be an ISO date (YYYY-MM-DD), not {pinned!r}") from None
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("today_for needs an aware instant, not a naive datetime")
    return now.astimezone(ZoneInfo(time_zone(institute))).date()


def today_note(today: date, institute: str, *, pinned: bool = False) -> str:
    """How a page states its "today": 'Today: 6 Dec 2026 (Australia/Canberra)', '... (UTC)', or fixed."""
    basis = "fixed by THREAT_TODAY" if pinned else time_zone(institute)
    return f"Today: {today.day} {today:%b %Y} ({basis})."
