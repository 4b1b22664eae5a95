"""The overview's questions: the last 30 and 90 days against the periods before, a weekly sparkline, what
is rising fastest, months flagged as breaking from their baseline, and the split by category and institute
for the sidebar's period, all in one statement.

Why a module of its own: this is the data behind pages/overview.py (the landing page of policymakers, who
read summaries and never records), with fixed windows rather than the sidebar's dates; the explorer's
questions are `incidents.explorer`, the reads several pages share `incidents.base`.

The fixed windows never show a fall that is only missing data (issue 15): they end on the day the data is
complete to (`incidents.currency`: the data's end less the lag within which 90% of incidents are reported), the
change compares counts adjusted for the share still expected to arrive, records dated only to the month or year
stay out of the day windows and the weekly sparkline (they count by month), and each category's monthly grid
starts at its own first record, with the month still in progress never tested (`incidents.grids`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pandas as pd

from analytics.access.markings import Marking, Scoped
from analytics.access.viewer import Viewer
from analytics.filters import Filters
from analytics.incidents import grids
from analytics.incidents.base import (
    HIGH_SEVERITY,
    NO_MARKING,
    as_count,
    by_part,
    marking_of_groups,
    summed_marking,
)
from analytics.incidents.currency import COMPLETE_SHARE, Currency, data_currency
from analytics.periods import period_grid, period_start, shift
from analytics.sources import PUBLIC_ORIGINATOR
from analytics.stats import rising as stats_rising
from analytics.stats.anomalies import DEFAULT_RULE, AnomalyRule

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True

SPARK_WEEKS = 26
OVERVIEW_ANOMALY_MONTHS = 6  # anomalies flagged in the last six months are listed


@dataclass(frozen=True)
class WindowFigures:
    """A window of `days` days ending on `end` (the day the data is complete to) and the `days` before it.
    `reported_share` is the share of the window's incidents expected to be reported by the data's end (from
    the measured lag); the change is read between `adjusted` counts, never the raw ones."""

    days: int
    incidents: int
    prev_incidents: int
    high: int
    prev_high: int
    end: date | None = None
    reported_share: float = 1.0
    prev_reported_share: float = 1.0

    @property
    def adjusted(self) -> float:
        """The count expected once late reports have arrived."""
        return self.incidents / self.reported_share if self.reported_share > 0 else float(self.incidents)

    @property
    def prev_adjusted(self) -> float:
        share = self.prev_reported_share
        return self.prev_incidents / share if share > 0 else float(self.prev_incidents)

    @property
    def high_share(self) -> float | None:
        return self.high / self.incidents if self.incidents else None

    @property
    def prev_high_share(self) -> float | None:
        return self.prev_high / self.prev_incidents if self.prev_incidents else None


@dataclass(frozen=True)
class OverviewData:
    windows: tuple[WindowFigures, WindowFigures]  # 30 and 90 days
    weekly: pd.DataFrame  # period, n  (last SPARK_WEEKS complete or current weeks)
    rising_categories: pd.DataFrame  # value, n, prev, change
    rising_sectors: pd.DataFrame  # value, n, prev, change
    anomalies: pd.DataFrame  # series, period, count, expected, ratio, p_value (monthly, by category)
    marking: Marking  # every row behind the fixed windows
    by_category: Scoped[pd.DataFrame]  # originator, category, incidents: the sidebar's period
    currency: Currency | None = None  # what the data runs to, and its reporting lag
    through: date | None = None  # the last day the fixed windows count (the day the data is complete to)
    left_out: int = (
        0  # incidents in the 180 days compared, dated only to the month or year: not in day windows
    )


def rising(df: pd.DataFrame, limit: int = 5, *, tables: int = 1) -> pd.DataFrame:
    """Values (columns value, n, prev) whose rate rose materially and not by chance, fastest first, with the
    ratio and adjusted p that say why: the rule is analytics.stats.rising (docs/methods.md)."""
    return stats_rising.rising(df, stats_rising.DEFAULT_RISING_RULE, limit, tables=tables)


def overview_query(
    viewer: Viewer, f: Filters, today: date, rule: AnomalyRule = DEFAULT_RULE, through: date | None = None
) -> tuple[str, dict[str, Any], date, date, date]:
    """The overview's one statement and parameters, and the first anomaly-baseline month, the first sparkline
    week and the first month whose flags are listed.

    One read serves both halves of the page: the fixed windows (the ~19 months to `through`, the last day
    they count, today by default: 90+90 days, 26 weeks, six flagged months and their baselines) and the split
    by category for the sidebar's own period. The rows read are the union of the two ranges; `recent` and
    `chosen` say which half a row counts in."""
    end = today if through is None else through
    month0 = shift(period_start(end, "month"), "month", -(OVERVIEW_ANOMALY_MONTHS - 1))
    anomaly_from = shift(month0, "month", -rule.window)
    spark_from = shift(period_start(end, "week"), "week", -(SPARK_WEEKS - 1))
    read_from = min(end - timedelta(days=179), anomaly_from, spark_from)
    chosen_from, chosen_to = f.date_range(today)
    wide_from = None if chosen_from is None else min(chosen_from, read_from)
    wide_to = None if chosen_to is None else max(chosen_to, today)
    where, params = f.with_dates(wide_from, wide_to).sql_where(viewer, today)
    params.update(
        {
            "o_read": read_from,
            "o_today": end,
            "o_30": end - timedelta(days=29),
            "o_60": end - timedelta(days=59),
            "o_90": end - timedelta(days=89),
            "o_180": end - timedelta(days=179),
            "o_spark": spark_from,
            "o_from": chosen_from,
            "o_to": chosen_to,
        }
    )
    hi = f"i.severity >= {HIGH_SEVERITY}"
    # Day windows, weeks and rising values count records known to the day; months those known to the month.
    by_day, by_month = grids.precise_sql("day", "prec"), grids.precise_sql("month", "prec")
    zeros = "0, 0, 0, 0, 0, 0, " + NO_MARKING
    sql = (
        # Not materialised, as in the explorer (see incidents.explorer): re-reading is cheaper than spilling.
        "with base as not materialized (select i.category, i.originator, i.sectors, i.occurred_on, i.severity, "
        "i.occurred_precision as prec, "
        "i.occurred_on between $o_read and $o_today as recent, "
        "i.occurred_on between coalesce($o_from, i.occurred_on) and coalesce($o_to, i.occurred_on) as chosen, "
        "i.tlp, i.source, list_contains(i.releasable_to, 'UK') as rel_uk, "
        f"list_contains(i.releasable_to, 'AU') as rel_au from incidents i where {where}), "
        # Per-row work only for the rows the fixed windows use.
        "recent as materialized (select i.category, i.sectors, i.occurred_on, i.prec, "
        f"i.originator <> '{PUBLIC_ORIGINATOR}' as inst, "
        "date_trunc('month', i.occurred_on)::date as month, date_trunc('week', i.occurred_on)::date as week, "
        "i.occurred_on >= $o_90 as in90, i.occurred_on < $o_90 and i.occurred_on >= $o_180 as in_prev90, "
        f"{hi} as high from base i where i.recent), "
        # The markings' groups and the split by category in one pass over every matching row (GROUPING SETS),
        # not two: each pass re-reads the table and re-applies the markings (a quarter of the statement's CPU
        # at 1M incidents, issue 21; tests/analytics/incidents/test_overview_one_pass.py).
        "agg as materialized (select grouping(tlp) = 0 as is_mark, tlp, rel_uk, rel_au, source, category, "
        "originator, recent, chosen, count(*) as n from base group by grouping sets "
        "((tlp, rel_uk, rel_au, source, recent, chosen), (category, originator, chosen))), "
        "marks as (select tlp, rel_uk, rel_au, source, coalesce(sum(n) filter (recent), 0)::bigint as n_recent, "
        "coalesce(sum(n) filter (chosen), 0)::bigint as n_chosen from agg where is_mark group by all) "
        "select 'head' as part, null::varchar as k, null::varchar as k2, null::date as period, "
        "count(*) filter (occurred_on >= $o_30) as n, count(*) filter (occurred_on >= $o_60 "
        "and occurred_on < $o_30) as prev, count(*) filter (in90) as n90, count(*) filter (in_prev90) as prev90, "
        "count(*) filter (high and occurred_on >= $o_30) as high, "
        "count(*) filter (high and occurred_on >= $o_60 "
        "and occurred_on < $o_30) as prev_high, count(*) filter (high and in90) as high90, "
        f"count(*) filter (high and in_prev90) as prev_high90, {NO_MARKING} from recent where {by_day} "
        f"union all select 'week', null, null, week, count(*), 0, {zeros} from recent "
        f"where week >= $o_spark and {by_day} group by all "
        # Flags test institute reporting only: public catalogues arrive in import batches (incidents.explorer).
        f"union all select 'month', category, null, month, count(*), 0, {zeros} from recent where {by_month} "
        "and inst group by all "
        "union all select 'category', category, null, null, count(*) filter (in90), "
        f"count(*) filter (in_prev90), {zeros} from recent where {by_day} group by all "
        "union all select 'sector', s, null, null, count(*) filter (in90), count(*) filter (in_prev90), "
        f"{zeros} from (select unnest(sectors) as s, in90, in_prev90 from recent where {by_day}) group by all "
        "union all select 'left_out', null, null, null, count(*) filter (in90 or in_prev90), 0, "
        f"{zeros} from recent where not {by_day} "
        f"union all select 'by_category', category, originator, null, sum(n)::bigint, 0, {zeros} from agg "
        "where not is_mark and chosen group by all "
        f"union all select 'marking', 'recent', null, null, {marking_of_groups('marks', 'n_recent', pad=7)} "
        f"union all select 'marking', 'chosen', null, null, {marking_of_groups('marks', 'n_chosen', pad=7)}"
    )
    return sql, params, anomaly_from, spark_from, month0


class OverviewRow(NamedTuple):
    """One row of the overview's statement: the branch (`part`) that made it, up to two keys, a period, the
    counts, and on the `marking` branch the marking columns (its row count is `n`). Most branches fill only
    `n` (and `prev`: the 90 days before); the `head` branch fills every count."""

    part: str
    k: Any
    k2: Any
    period: date | None
    n: int | None  # head: last 30 days; category/sector: last 90 days; week/month/by_category: incidents
    prev: int | None  # head: the 30 days before; category/sector: the 90 days before
    n90: int | None
    prev90: int | None
    high: (
        int | None
    )  # severity high or critical, last 30 days (then the 30 before, the last 90, the 90 before)
    prev_high: int | None
    high90: int | None
    prev_high90: int | None
    m_tlp: Any
    m_uk: Any
    m_au: Any
    m_rows: Any
    m_sources: Any


def overview_summary(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    f: Filters,
    today: date,
    rule: AnomalyRule = DEFAULT_RULE,
    currency: Currency | None = None,
) -> OverviewData:
    """The overview's figures for what this viewer may see. The fixed windows (last 30/90 days against the
    30/90 before, 26 weeks of trend, monthly anomaly baselines) replace the sidebar's dates and end on the day
    the data is complete to; every other filter applies. `by_category` follows the sidebar's period too.

    `currency` is `data_currency(con, viewer, today)`, read here when not given: the page passes the one it
    has already (a scan of every visible record, which need not follow each filter change)."""
    if currency is None or currency.today != today:
        currency = data_currency(con, viewer, today)
    through = currency.complete_to
    sql, params, anomaly_from, spark_from, month0 = overview_query(viewer, f, today, rule, through)
    parts = by_part(map(OverviewRow._make, con.execute(sql, params).fetchall()))
    head = parts["head"][0]
    marks = {r.k: r for r in parts.get("marking", [])}
    left_out = parts.get("left_out")
    return OverviewData(
        windows=(
            _window(currency, through, 30, head.n, head.prev, head.high, head.prev_high),
            _window(currency, through, 90, head.n90, head.prev90, head.high90, head.prev_high90),
        ),
        weekly=_weekly(parts.get("week", []), spark_from, through),
        rising_categories=_rising_of(parts.get("category", [])),
        rising_sectors=_rising_of(parts.get("sector", [])),
        anomalies=_monthly_anomalies(parts.get("month", []), anomaly_from, month0, through, rule),
        marking=_marking(marks.get("recent")),
        by_category=Scoped(_by_category(parts.get("by_category", [])), _marking(marks.get("chosen"))),
        currency=currency,
        through=through,
        left_out=as_count(left_out[0].n) if left_out else 0,
    )


def windows_note(summary: OverviewData) -> str:
    """The rule the fixed windows follow, in words, for the line above them: where they end and why."""
    cur, through = summary.currency, summary.through
    if cur is None or through is None or cur.data_end is None:
        return "No incidents you may see yet."
    note = f"Figures to {_day(through)}"
    if cur.complete_lag:
        note += (
            f", the last day by which {COMPLETE_SHARE:.0%} of incidents are reported (data to "
            f"{_day(cur.data_end)}; {COMPLETE_SHARE:.0%} are reported within {cur.complete_lag} days)."
        )
    elif through < cur.today:
        note += f", the last day of data (today is {_day(cur.today)})."
    else:
        note += "."
    if summary.left_out:
        noun = "incident" if summary.left_out == 1 else "incidents"
        note += (
            f" {summary.left_out:,} {noun} dated only to the month or year are left out of the day windows."
        )
    return note


def adjustment_note(w: WindowFigures) -> str:
    """How a window's change allows for reports still to come (the metric's help)."""
    if w.reported_share >= 0.9995 and w.prev_reported_share >= 0.9995:
        return f"No late reports are expected for these {w.days} days: the change compares the counts as they are."
    return (
        f"About {w.reported_share:.0%} of these {w.days} days' incidents are expected to be reported by now "
        f"(measured reporting lag): about {w.adjusted:,.0f} once late reports arrive, against "
        f"{w.prev_adjusted:,.0f} in the {w.days} days before. The change compares these adjusted counts, so "
        "reports still to come never look like a fall."
    )


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _window(
    currency: Currency, through: date, days: int, n: Any, prev: Any, high: Any, prev_high: Any
) -> WindowFigures:
    """A window of `days` days to `through` and the one before it, with the share of each expected to be
    reported by the data's end."""
    first = through - timedelta(days=days - 1)
    before = first - timedelta(days=days)
    return WindowFigures(
        days,
        as_count(n),
        as_count(prev),
        as_count(high),
        as_count(prev_high),
        end=through,
        reported_share=currency.completeness(first, through),
        prev_reported_share=currency.completeness(before, first - timedelta(days=1)),
    )


def _weekly(rows: list[OverviewRow], spark_from: date, through: date) -> pd.DataFrame:
    """Incidents per week from `spark_from` to the week holding `through` (the last of them may be partial),
    weeks without any included."""
    week_grid = period_grid(spark_from, through, "week")
    per_week = {r.period: as_count(r.n) for r in rows}
    return pd.DataFrame(
        {
            "period": pd.to_datetime(week_grid),
            "n": np.array([per_week.get(w, 0) for w in week_grid], dtype="int64"),
        }
    )


def _rising_of(rows: list[OverviewRow]) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "value": [str(r.k) for r in rows],
            "n": np.array([as_count(r.n) for r in rows], dtype="int64"),
            "prev": np.array([as_count(r.prev) for r in rows], dtype="int64"),
        }
    )
    # Two tables (categories, sectors) share the page's 5% chance of listing anything by chance.
    return rising(df, tables=2)


def _monthly_anomalies(
    rows: list[OverviewRow], anomaly_from: date, month0: date, through: date, rule: AnomalyRule
) -> pd.DataFrame:
    """Whole months from `month0` to `through` in which a category broke from its trailing baseline. Each
    category is tested from its own first month with incidents (an empty start is no baseline), and the month
    holding `through` is tested only if it is over."""
    monthly: dict[str, dict[date, int]] = {}
    for r in rows:
        if r.period is not None:
            monthly.setdefault(str(r.k), {})[r.period] = as_count(r.n)
    month_grid = period_grid(anomaly_from, through, "month")
    listed = [p for p in grids.whole_periods(month_grid, "month", through) if p >= month0]
    return grids.flag_from_own_start(monthly, month_grid, rule, testable=listed)


def _by_category(rows: list[OverviewRow]) -> pd.DataFrame:
    """Incidents per originator and category in the sidebar's period: by originator, then most first."""
    kept = sorted(((str(r.k2), str(r.k), as_count(r.n)) for r in rows), key=lambda r: (r[0], -r[2], r[1]))
    return pd.DataFrame(
        {
            "originator": [r[0] for r in kept],
            "category": [r[1] for r in kept],
            "incidents": np.array([r[2] for r in kept], dtype="int64"),
        }
    )


def _marking(row: OverviewRow | None) -> Marking:
    if row is None:
        return Marking()
    return summed_marking(row.n, row.m_tlp, row.m_uk, row.m_au, row.m_sources)
