"""How current the incident data is: what each series (institute reporting, each public source) runs to, and how
late incidents are reported after they occur.

Why a module of its own: a count of "the last 30 days" means nothing without knowing whether the data reaches
today. Incidents are reported days to weeks after they occur, and a store whose last import was two weeks ago
shows a fall that is only missing data (issue 15, finding 2). Every page states what its data runs to from
here (pages/parts/currency.py), and the overview ends its windows on the day the data is complete to and adjusts
the change for the reporting lag measured here (analytics.incidents.overview). The rule, in words, is in
docs/incident-analysis.md ("Currency and reporting lag").

Read through the viewer's markings only, never the sidebar's filters: currency is a property of the feed, not of
a category, and a rare category's last record says nothing about how current the data is. A record the viewer
may not see moves no date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from analytics.access.markings import visible_sql
from analytics.access.viewer import Viewer
from analytics.sources import PUBLIC_ORIGINATOR, public_source

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True

INSTITUTE = (
    "institute"  # the series of the institutes' own reporting (originator UK or AU), whatever its source
)
MAX_LAG_DAYS = 365  # lags are measured up to a year; later reports count as a year late
LAG_WINDOW_DAYS = (
    365  # the lag is measured on the reports of the year before the data's end (current practice)
)
COMPLETE_SHARE = 0.9  # the counts are "complete" up to the day by which 90% of incidents have been reported


@dataclass(frozen=True)
class SeriesCurrency:
    """One series' last dates and its reporting lag: `lags[d]` is how many day-precise incidents reported in the
    LAG_WINDOW_DAYS before the series' last report were reported `d` days after they occurred (the last
    bucket: MAX_LAG_DAYS or more; a report dated before the occurrence counts as 0)."""

    key: str  # INSTITUTE, or a public source key (incidents.source)
    records: int
    last_occurred: date
    last_occurred_precision: str  # of the latest occurrence: 'day', 'month' or 'year'
    last_reported: date | None
    lags: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        if self.key == INSTITUTE:
            return "institute reporting"
        known = public_source(self.key)
        return known.name if known else self.key

    @property
    def last_date(self) -> date:
        """The latest day the series knows of: its last report, or its last occurrence when that is later."""
        return max(self.last_occurred, self.last_reported or self.last_occurred)

    def lag_quantile(self, q: float) -> int | None:
        """The fewest days within which a share `q` of incidents is reported; None when nothing is measured."""
        total = sum(self.lags)
        if not total:
            return None
        running = 0
        for days, n in enumerate(self.lags):
            running += n
            if running >= q * total:
                return days
        return len(self.lags) - 1

    def reported_share(self, days: int) -> float:
        """The share of incidents reported within `days` days of occurring (1.0 when nothing is measured)."""
        total = sum(self.lags)
        if not total:
            return 1.0
        return sum(self.lags[: max(0, days) + 1]) / total


@dataclass(frozen=True)
class Currency:
    """What the data a viewer may see runs to. `primary` (institute reporting when there is any, else the most
    current series) decides the data's end and lag: the institutes' reporting is what the pages count."""

    today: date
    series: tuple[SeriesCurrency, ...]  # institute reporting first, then the most current first

    @property
    def primary(self) -> SeriesCurrency | None:
        return self.series[0] if self.series else None

    @property
    def data_end(self) -> date | None:
        """The last day of data (the primary series' last report or occurrence), never after today."""
        return min(self.primary.last_date, self.today) if self.primary else None

    @property
    def complete_lag(self) -> int:
        """Days before the data's end after which counts are still filling in (0 when the lag is unmeasured)."""
        lag = self.primary.lag_quantile(COMPLETE_SHARE) if self.primary else None
        return lag or 0

    @property
    def complete_to(self) -> date:
        """The last day whose incidents are (COMPLETE_SHARE) reported by the data's end; today with no data."""
        end = self.data_end
        return self.today if end is None else end - timedelta(days=self.complete_lag)

    def completeness(self, first: date, last: date) -> float:
        """The expected share of the incidents occurring from `first` to `last` that are reported by the data's
        end: the mean over those days of the share reported within their age (1.0 when the lag is unmeasured)."""
        end, primary = self.data_end, self.primary
        if end is None or primary is None or last < first:
            return 1.0
        days = (last - first).days + 1
        return (
            sum(primary.reported_share((end - (first + timedelta(days=k))).days) for k in range(days)) / days
        )

    def describe(self) -> str:
        """One line for the page: 'Data to 20 Nov 2026 (institute reporting), reported 6 days after occurrence
        at the median; AI Incident Database to Jun 2025.'"""
        if not self.series:
            return "No incidents you may see yet."
        first, *others = self.series
        median = first.lag_quantile(0.5)
        lag = (
            f"reported {median} day{'s' if median != 1 else ''} after occurrence at the median"
            if median is not None
            else "no report dates to measure the reporting lag"
        )
        end = min(first.last_date, self.today)
        parts = [f"Data to {_day(end, 'day')} ({first.label}), {lag}"]
        parts += [f"{s.label} to {_day(s.last_date, s.last_occurred_precision)}" for s in others]
        return "; ".join(parts) + "."


def _day(d: date, precision: str) -> str:
    """A date as precise as it is known ('20 Nov 2026', 'Jun 2025', '2025')."""
    if precision == "year":
        return f"{d:%Y}"
    if precision == "month":
        return f"{d:%b %Y}"
    return f"{d.day} {d:%b %Y}"


_CURRENCY_SQL = """
with v as materialized (
    select case when i.originator = $public then i.source else $institute end as series,
           i.occurred_on, i.reported_on, i.occurred_precision
    from incidents i where {visible}),
ends as (
    select series, count(*) as n, max(occurred_on) as last_occurred, max(reported_on) as last_reported,
           arg_max(occurred_precision, occurred_on) as precision
    from v group by series),
lags as (
    select v.series, least(greatest(date_diff('day', v.occurred_on, v.reported_on), 0), $max_lag) as lag,
           count(*) as n
    from v join ends using (series)
    where v.reported_on is not null and v.occurred_precision = 'day'
      and v.reported_on > ends.last_reported - to_days($window)
    group by all)
select 'end' as part, series, n, last_occurred, last_reported, precision, null::integer as lag from ends
union all select 'lag', series, n, null, null, null, lag from lags
"""


def data_currency(con: duckdb.DuckDBPyConnection, viewer: Viewer, today: date) -> Currency:
    """What the incidents this viewer may see run to, per series, with each series' measured reporting lag."""
    visible, params = visible_sql(viewer, "incidents", "i")
    params.update(
        {
            "public": PUBLIC_ORIGINATOR,
            "institute": INSTITUTE,
            "max_lag": MAX_LAG_DAYS,
            "window": LAG_WINDOW_DAYS,
        }
    )
    ends: dict[str, tuple[int, date, date | None, str]] = {}
    lags: dict[str, list[int]] = {}
    for part, series, n, last_occurred, last_reported, precision, lag in con.execute(
        _CURRENCY_SQL.format(visible=visible), params
    ).fetchall():
        if part == "end":
            ends[series] = (int(n), last_occurred, last_reported, str(precision))
        else:
            lags.setdefault(series, [0] * (MAX_LAG_DAYS + 1))[int(lag)] += int(n)
    found = [
        SeriesCurrency(key, n, occurred, precision, reported, tuple(lags.get(key, ())))
        for key, (n, occurred, reported, precision) in ends.items()
    ]
    # Institute reporting first (what the pages count), then the most current source first, ties by key.
    found.sort(key=lambda s: (s.key != INSTITUTE, -s.last_date.toordinal(), s.key))
    return Currency(today, tuple(found))
