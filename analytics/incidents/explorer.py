"""The incident explorer's questions: everything its charts show after a filter change (one statement), the
paged and sorted incident table, its CSV export, and one incident's detail.

Why a module of its own: this is the data behind pages/explorer.py and nothing else (the overview's fixed
windows are `incidents.overview`; reads several pages share are `incidents.base`). Each function takes a
cursor, the viewer and the filters; markings and filters become one WHERE clause with bound parameters
(`Filters.sql_where`), and each result carries the marking of the rows behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pandas as pd

from analytics.access.markings import (
    Marking,
    Scoped,
    highest_marking,
    marking_from_row,
    marking_select_sql,
    visible_sql,
)
from analytics.access.viewer import Viewer
from analytics.filters import INSTITUTE_REPORTING, Filters, source_sql
from analytics.incidents import grids
from analytics.incidents.base import (
    HIGH_SEVERITY,
    NO_MARKING,
    as_count,
    by_part,
    marking_of_groups,
    summed_marking,
)
from analytics.periods import GRAINS, period_end, period_grid, period_start, shift
from analytics.sources import PUBLIC_ORIGINATOR
from analytics.stats.anomalies import DEFAULT_RULE, AnomalyRule

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True

# ---------------------------------------------------------------------------------------------------------------
# Explorer: everything the page shows after a filter change, in one round trip.
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    label: str
    expr: str  # SQL over `base b` yielding one value per row (or per list element when `unnest`)
    filter_attr: str  # the Filters field a click on this value narrows
    unnest: bool = False


# Dimensions the trend can be split by. Sectors are a list: an incident counts once in each of its sectors.
DIMENSIONS: dict[str, Dimension] = {
    "category": Dimension("Category", "b.category", "categories"),
    "originator": Dimension("Reported by", "b.originator", "originators"),
    "source": Dimension("Source", "b.source_kind", "sources"),
    "sector": Dimension("Sector", "unnest(b.sectors)", "sectors", unnest=True),
    "severity": Dimension("Severity", "b.severity::varchar", "severities"),
    "actor": Dimension("Actor type", "coalesce(b.actor_type, 'unknown')", "actor_types"),
}

TOP_SYSTEMS = 10

# Period lengths for the trend: each periods.GRAINS name -> the date_trunc part (a fixed string, never user text).
_TRUNC: dict[str, str] = {grain: grain for grain in GRAINS}


@dataclass(frozen=True)
class Headline:
    """Headline figures for the filtered set; `prev_*` are None when there is no previous period (open range)."""

    incidents: int
    high_share: float | None  # share of incidents with severity >= 4, None when there are none
    sectors: int
    prev_incidents: int | None = None
    prev_high_share: float | None = None
    prev_sectors: int | None = None
    # The last day the data is complete to, when the range runs past it: its counts still grow as reports come
    # in, so no change against the previous period is given (issue 15: a fall that is only missing data).
    incomplete_after: date | None = None


@dataclass(frozen=True)
class ExplorerData:
    grain: str
    dimension: str
    start: date | None
    end: date | None
    headline: Headline
    totals: pd.DataFrame  # period, n, high, partial  (the chart's periods, counts inside the range)
    trend: pd.DataFrame  # period, value, n            (split by the dimension)
    anomalies: pd.DataFrame  # series, period, count, expected, ratio, p_value (see analytics.stats.anomalies)
    by_originator: (
        pd.DataFrame
    )  # category, originator (UK, AU or PUBLIC), source (institute or a public key), n
    heatmap: pd.DataFrame  # category, sector, n
    actors: pd.DataFrame  # actor_type, n
    severities: pd.DataFrame  # severity, n
    systems: pd.DataFrame  # affected_system, n  (top TOP_SYSTEMS)
    developers: pd.DataFrame  # developer, n  (top TOP_SYSTEMS)
    marking: Marking  # the rows in the range: every chart and the table
    baseline_marking: Marking  # the range plus the previous period and the anomaly baseline
    imprecise: int = 0  # incidents in the range dated too coarsely for this grain: left out of the trend
    # An open range ("All time") is drawn from `drawn_from`: the `not_drawn` earliest incidents (at most
    # DRAWN_TAIL of them, e.g. one AIID record of 1983) count in every figure but would squash the chart.
    drawn_from: date | None = None
    not_drawn: int = 0
    earliest: date | None = None

    @property
    def empty(self) -> bool:
        return self.headline.incidents == 0


class ExplorerRow(NamedTuple):
    """One row of the explorer's statement: which branch (`part`) made it, up to two keys, a period, the
    counts (all rows read, in the range, in the previous period; and of those, high severity) and, on the
    `marking` branch, the marking columns (its row count is `n`)."""

    part: str
    k1: Any
    k2: Any
    period: date | None
    n: int | None
    n_cur: int | None
    n_prev: int | None
    hi_cur: int | None
    hi_prev: int | None
    m_tlp: Any
    m_uk: Any
    m_au: Any
    m_rows: Any
    m_sources: Any


_NO_ROW = ExplorerRow("head", *(None,) * 13)  # a summary of no rows has no `head` branch


def _explorer_sql(where: str, grain: str, dim: Dimension) -> str:
    """The matching rows are read once and grouped in one pass by GROUPING SETS into five small relations: the
    trend (period × split value), a small cube of the low-cardinality fields (category, originator, severity,
    actor: a few hundred groups, from which the headline, UK/AU, actor and severity are summed), the marking
    groups (tlp, releasability, source), category × sector list (unnested afterwards, over a thousand groups
    rather than a million rows) and affected system × developer. A UNION ALL of small reshaping selects returns
    everything in one round trip, with the same columns for every part.

    Why one pass: each of five aggregates used to re-read and re-filter the table (the markings predicate over
    every row); grouping sets feed every grouping from one scan, which about halved the statement's CPU at 1M
    incidents (all time 0.58 -> 0.32 s, three categories 0.42 -> 0.21 s; issue 21).
    tests/analytics/incidents/test_explorer_one_pass.py holds its answers to the five-pass statement's. Each
    grouping is summed under its own condition (the trend over precisely dated rows; the cube and the heat over
    rows in the range or the previous period; the systems over rows in the range), and a group with no such row
    is left out, as before.
    """
    hi = f"severity >= {HIGH_SEVERITY}"
    sums = (
        "sum(n)::bigint as n, sum(n_cur)::bigint as n_cur, sum(n_prev)::bigint as n_prev, "
        "sum(hi_cur)::bigint as hi_cur, sum(hi_prev)::bigint as hi_prev"
    )
    # The split value; a list dimension (sectors) is grouped as the list and unnested on the grouped rows.
    trend_value = "b.sectors" if dim.unnest else dim.expr
    trunc = _TRUNC[grain]  # an allow-listed name: the only text of `grain` that reaches the SQL

    def from_cube(part: str, k1: str = "null", k2: str = "null") -> str:
        return (
            f"select '{part}' as part, {k1}::varchar as k1, {k2}::varchar as k2, null::date as period, "
            f"{sums}, {NO_MARKING} from cube group by all"
        )

    def top(part: str, col: str) -> str:
        return (
            f"(select '{part}', {col}, null, null, sum(n_cur)::bigint as n, sum(n_cur)::bigint, 0, 0, 0, "
            f"null, null, null, null, null from systems where {col} is not null group by all "
            f"having sum(n_cur) > 0 order by n desc, {col} limit {TOP_SYSTEMS})"
        )

    selects = [
        from_cube("head"),
        "select 'total', null, null, period, sum(n)::bigint, sum(n_cur)::bigint, sum(n_prev)::bigint, "
        f"sum(hi_cur)::bigint, sum(hi_prev)::bigint, {NO_MARKING} from "
        + ("totals" if dim.unnest else "trend")
        + " group by all",
        f"select 'trend', v, null, period, n, n_cur, n_prev, hi_cur, hi_prev, {NO_MARKING} from trend",
        # What the anomaly test counts: institute reporting only (see _anomalies).
        f"select 'tested', v, null, period, n_inst, 0, 0, 0, 0, {NO_MARKING} from trend where n_inst > 0",
        "select 'tested_total', null, null, period, sum(n_inst)::bigint, 0, 0, 0, 0, "
        f"{NO_MARKING} from " + ("totals" if dim.unnest else "trend") + " group by all",
        # k2: the reporting institute, or for public records (originator PUBLIC) the source's key
        from_cube(
            "cat_orig", "category", "case when originator = 'PUBLIC' then source_kind else originator end"
        ),
        f"select 'heat', category, s, null, n, n_cur, n_prev, hi_cur, hi_prev, {NO_MARKING} from heat",
        from_cube("actor", "actor_type"),
        from_cube("severity", "severity"),
        top("system", "affected_system"),
        top("developer", "developer"),
        # Markings of the rows in range ('cur') and of every row read ('all').
        "(select 'marking', 'cur', null, null, " + marking_of_groups("marks", "n_cur") + ")",
        "(select 'marking', 'all', null, null, " + marking_of_groups("marks", "n") + ")",
        # Rows in range left out of the trend for imprecise dates (the page says how many).
        "select 'imprecise', null, null, null, sum(n_imprecise)::bigint, sum(n_imprecise)::bigint, 0, 0, 0, "
        f"{NO_MARKING} from marks",
    ]

    # Each grouping is keyed by the flags its counts are taken under (in the range, in the previous period,
    # precisely dated, high severity, institute reporting), so the one pass keeps a single count per group and the
    # counts are summed from the flags on the small grouped rows: about a third less CPU at 1M incidents than
    # thirteen filtered counts kept in every grouping.
    def summed(*, inst: bool = False) -> str:
        def total(condition: str) -> str:
            return f"coalesce(sum(n) filter ({condition}), 0)::bigint"

        return (
            f"sum(n)::bigint as n, {total('cur')} as n_cur, {total('prev')} as n_prev, "
            f"{total('cur and hi')} as hi_cur, {total('prev and hi')} as hi_prev"
            + (f", {total('inst')} as n_inst" if inst else "")
        )

    # Which grouping a row of `g` belongs to: each has one column no other grouping has.
    grouping = (
        "case when grouping(period) = 0 then 'trend' when grouping(originator) = 0 then 'cube' "
        "when grouping(tlp) = 0 then 'marks' when grouping(sectors) = 0 then 'heat' else 'systems' end"
    )
    trend_rows = "from g where grouping_set = 'trend' and precise"
    trend = (
        # grouped by the sector list: unnested here, and summed per sector
        f"trend as (select period, v, {summed(inst=True)} from (select period, unnest(v) as v, n, cur, prev, hi, "
        f"inst {trend_rows}) group by all)"
        if dim.unnest
        else f"trend as (select period, v, {summed(inst=True)} {trend_rows} group by all)"
    )
    # `base` has one consumer, the grouping; it is streamed into every grouping set at once, never stored.
    ctes = [
        "base as not materialized (select i.category, i.originator, i.severity, coalesce(i.actor_type, 'unknown') as actor_type, "
        "i.sectors, i.affected_system, i.developer, i.tlp, i.source, "
        f"{source_sql('i')} as source_kind, (i.originator <> '{PUBLIC_ORIGINATOR}') as inst, "
        "list_contains(i.releasable_to, 'UK') as rel_uk, list_contains(i.releasable_to, 'AU') as rel_au, "
        f"date_trunc('{trunc}', i.occurred_on)::date as period, "
        # Dated precisely enough for this grid (incidents.grids): a month-only date is no week's count.
        f"{grids.precise_sql(grain)} as precise, "
        "(i.occurred_on >= coalesce($x_cur_from, i.occurred_on)) as cur, "
        "coalesce(i.occurred_on between $x_prev_from and $x_prev_to, false) as prev "
        f"from incidents i where {where})",
        f"g as materialized (select {grouping} as grouping_set, period, v, category, originator, source_kind, "
        "severity, actor_type, tlp, rel_uk, rel_au, source, sectors, affected_system, developer, precise, cur, "
        f"prev, hi, inst, count(*) as n from (select b.*, {trend_value} as v, b.{hi} as hi from base b) "
        "group by grouping sets ((period, v, precise, cur, prev, hi, inst), "
        "(category, originator, source_kind, severity, actor_type, cur, prev), "
        "(tlp, rel_uk, rel_au, source, cur, precise), (category, sectors, cur, prev, hi), "
        "(affected_system, developer, cur)))",
        trend,
        # severity is one of the cube's keys: its high flag is taken here, not kept in the grouping
        f"cube as (select category, originator, source_kind, severity, actor_type, {summed()} from (select "
        f"category, originator, source_kind, severity, actor_type, n, cur, prev, {hi} as hi from g "
        "where grouping_set = 'cube' and (cur or prev)) group by all)",
        "marks as (select tlp, rel_uk, rel_au, source, sum(n)::bigint as n, "
        "coalesce(sum(n) filter (cur), 0)::bigint as n_cur, "
        "coalesce(sum(n) filter (cur and not precise), 0)::bigint as n_imprecise "
        "from g where grouping_set = 'marks' group by all)",
        f"heat as (select category, s, {summed()} from (select category, unnest(sectors) as s, n, cur, prev, hi "
        "from g where grouping_set = 'heat' and (cur or prev)) group by all)",
        "systems as (select affected_system, developer, sum(n)::bigint as n_cur from g "
        "where grouping_set = 'systems' and cur group by all)",
    ]
    if dim.unnest:  # per period, each incident once (the trend counts it once per sector)
        ctes.append(f"totals as (select period, {summed(inst=True)} {trend_rows} group by all)")
    return "with " + ", ".join(ctes) + " " + " union all ".join(selects)


def _bounds(f: Filters, today: date, grain: str, rule: AnomalyRule) -> tuple[Filters, dict[str, Any]]:
    """The filters widened back to cover the previous period and the anomaly baseline, and the range params."""
    start, end = f.date_range(today)
    prev = f.previous_period(today)
    prev_from, prev_to = prev.date_range(today) if prev else (None, None)
    wide_from = None
    if start is not None:
        wide_from = shift(period_start(start, grain), grain, -rule.window)
        if prev_from is not None:
            wide_from = min(wide_from, prev_from)
    wide = f.with_dates(wide_from, end) if start is not None else f
    return wide, {"x_cur_from": start, "x_prev_from": prev_from, "x_prev_to": prev_to}


def explorer_query(
    viewer: Viewer,
    f: Filters,
    today: date,
    grain: str = "month",
    dimension: str = "category",
    rule: AnomalyRule = DEFAULT_RULE,
) -> tuple[str, dict[str, Any], Filters, dict[str, Any]]:
    """The explorer's one statement and its parameters (also timed on its own by the benchmark), with the
    widened filters it reads and the range parameters."""
    if grain not in GRAINS:
        raise ValueError(f"unknown period {grain!r}")
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    wide, extra = _bounds(f, today, grain, rule)
    where, params = wide.sql_where(viewer, today)
    params.update(extra)
    return _explorer_sql(where, grain, DIMENSIONS[dimension]), params, wide, extra


def explorer_summary(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    f: Filters,
    today: date,
    grain: str = "month",
    dimension: str = "category",
    rule: AnomalyRule = DEFAULT_RULE,
    data_end: date | None = None,
) -> ExplorerData:
    """Everything the explorer's figures and charts need, for what this viewer may see under these filters.

    One SQL statement (`explorer_query`): the matching rows, widened back over the previous period and the
    anomaly baseline, are read once and folded by a few aggregates, so a filter change costs one scan of the
    table however many charts the page draws.

    `data_end` is the last day the data is complete to (incidents.currency's `complete_to`): periods ending
    after it (or after today) are drawn as partial and never tested.
    """
    sql, params, wide, extra = explorer_query(viewer, f, today, grain, dimension, rule)
    # The answer is a few thousand aggregate rows: plain tuples are much cheaper to reshape than a
    # DataFrame (pandas' per-call overhead dominated once the SQL was down to one read).
    parts = by_part(map(ExplorerRow._make, con.execute(sql, params).fetchall()))
    start, end = f.date_range(today)
    until_day = min(today, data_end) if data_end is not None else today

    # Periods: the baseline grid (for anomaly tests) and the chart grid (the range itself).
    total = {r.period: r for r in parts.get("total", []) if r.period is not None}
    last = end or (max(max(total), today) if total else today)
    first_base = wide.date_range(today)[0] or (min(total) if total else last)
    base_grid = period_grid(first_base, last, grain)
    first_chart = period_start(start or first_base, grain)
    drawn_from, not_drawn = (None, 0) if start is not None else _drawn_from(total)
    if drawn_from is not None:
        first_chart = max(first_chart, drawn_from)
    chart_grid = [p for p in base_grid if p >= first_chart]

    severities = _counted(parts.get("severity", []), ("severity",), lambda r: int(r[0]))
    severities["severity"] = np.array([int(v) for v in severities["severity"]], dtype="int64")
    marks = {r.k1: r for r in parts.get("marking", [])}
    return ExplorerData(
        grain=grain,
        dimension=dimension,
        start=start,
        end=end,
        headline=_headline(
            parts,
            has_prev=extra["x_prev_from"] is not None,
            # A range running past the last complete day counts reports not yet in as a fall: no change shown.
            incomplete_after=data_end if data_end is not None and (end or today) > data_end else None,
        ),
        totals=_totals(total, chart_grid, grain, start, min(last, until_day)),
        trend=_trend(parts.get("trend", []), set(chart_grid)),
        anomalies=_anomalies(
            {r.period: r for r in parts.get("tested_total", []) if r.period is not None},
            parts.get("tested", []),
            base_grid,
            grids.whole_periods(chart_grid, grain, min(last, until_day)),
            rule,
        ),
        by_originator=_by_originator(parts.get("cat_orig", [])),
        heatmap=_counted(parts.get("heat", []), ("category", "sector"), _by_keys),
        actors=_ranked(parts.get("actor", []), "actor_type"),
        severities=severities,
        systems=_ranked(parts.get("system", []), "affected_system"),
        developers=_ranked(parts.get("developer", []), "developer"),
        marking=_marking(marks.get("cur")),
        baseline_marking=_marking(marks.get("all")),
        imprecise=as_count((parts.get("imprecise") or [_NO_ROW])[0].n),
        drawn_from=drawn_from if not_drawn else None,
        not_drawn=not_drawn,
        earliest=min(total) if total else None,
    )


# The share of the earliest incidents an open range may leave undrawn (never more): enough to drop a stray old
# record (AIID's one of 1983 before a dozen from the 1990s and 2000s), never a real part of the picture.
DRAWN_TAIL = 0.01


def _drawn_from(total: dict[date, ExplorerRow]) -> tuple[date | None, int]:
    """For an open range: the first period to draw, and how many incidents come before it (at most DRAWN_TAIL
    of all). The chart then starts where the data does instead of at its oldest straggler."""
    periods = sorted(p for p, r in total.items() if as_count(r.n_cur) > 0)
    if not periods:
        return None, 0
    everything = sum(as_count(total[p].n_cur) for p in periods)
    before, first, left_out = 0, periods[0], 0
    for p in periods:
        if before > DRAWN_TAIL * everything:
            break
        first, left_out = p, before
        before += as_count(total[p].n_cur)
    return first, left_out


def _headline(
    parts: dict[str, list[ExplorerRow]], *, has_prev: bool, incomplete_after: date | None = None
) -> Headline:
    """Headline figures: the range's counts, and the previous period's when there is one and the range ends
    within the complete data (else `incomplete_after` says from when it is incomplete, and no change is given)."""
    if incomplete_after is not None:
        has_prev = False
    head = (parts.get("head") or [_NO_ROW])[0]
    n_cur, n_prev = as_count(head.n_cur), as_count(head.n_prev)
    hi_cur, hi_prev = as_count(head.hi_cur), as_count(head.hi_prev)
    # A sector is "affected" in a period when any incident of it falls there (the heat rows hold sectors).
    sector_cur: dict[str, int] = {}
    sector_prev: dict[str, int] = {}
    for r in parts.get("heat", []):
        sector_cur[r.k2] = sector_cur.get(r.k2, 0) + as_count(r.n_cur)
        sector_prev[r.k2] = sector_prev.get(r.k2, 0) + as_count(r.n_prev)
    return Headline(
        incidents=n_cur,
        high_share=hi_cur / n_cur if n_cur else None,
        sectors=sum(1 for v in sector_cur.values() if v > 0),
        prev_incidents=n_prev if has_prev else None,
        prev_high_share=(hi_prev / n_prev if n_prev else None) if has_prev else None,
        prev_sectors=sum(1 for v in sector_prev.values() if v > 0) if has_prev else None,
        incomplete_after=incomplete_after,
    )


def _totals(
    total: dict[date, ExplorerRow], chart_grid: list[date], grain: str, start: date | None, until: date
) -> pd.DataFrame:
    """All incidents per chart period; a period is partial when it begins before the range or ends after
    `until` (the range's end, or today while the period is not over)."""

    def partial(p: date) -> bool:
        return (start is not None and p < start) or period_end(p, grain) > until

    return pd.DataFrame(
        {
            "period": pd.to_datetime(chart_grid),
            "n": pd.array([as_count(total[p].n_cur) if p in total else 0 for p in chart_grid], dtype="int64"),
            "high": pd.array(
                [as_count(total[p].hi_cur) if p in total else 0 for p in chart_grid], dtype="int64"
            ),
            "partial": [partial(p) for p in chart_grid],
        }
    )


def _trend(rows: list[ExplorerRow], in_chart: set[date]) -> pd.DataFrame:
    """Incidents in the range per chart period and split value (values with none left out)."""
    kept = sorted(
        (r.period, str(r.k1), as_count(r.n_cur))
        for r in rows
        if r.period in in_chart and r.k1 is not None and as_count(r.n_cur) > 0
    )
    return pd.DataFrame(
        {
            "period": pd.to_datetime([r[0] for r in kept]),
            "value": [r[1] for r in kept],
            "n": pd.array([r[2] for r in kept], dtype="int64"),
        }
    )


def _anomalies(
    total: dict[date, ExplorerRow],
    trend: list[ExplorerRow],
    base_grid: list[date],
    testable: list[date],
    rule: AnomalyRule,
) -> pd.DataFrame:
    """Periods (baseline rows included) tested against their trailing baseline, for all incidents and each split
    value, each series from its own first record; only whole periods of the chart (`testable`) are reported
    (incidents.grids).

    Only institute reporting is tested (`total` and `trend` are its counts): a public catalogue's records are
    dated when it publishes them and arrive in import batches (AVID published 434 reports in March 2026), so
    their counts measure the catalogue's curation, not incidents; they stay in every figure and chart."""
    series: dict[str, dict[date, int]] = {"All incidents": {p: as_count(r.n) for p, r in total.items()}}
    for r in trend:
        if r.k1 is not None and r.period is not None:
            series.setdefault(str(r.k1), {})[r.period] = as_count(r.n)
    return grids.flag_from_own_start(series, base_grid, rule, testable=testable)


def _by_originator(rows: list[ExplorerRow]) -> pd.DataFrame:
    """Counts in the range by category and who reported them: UK and AU (institute reporting), and each public
    source on its own (originator PUBLIC, `source` its key), so no comparison can count public data as UK or
    AU."""
    df = _counted(rows, ("category", "originator"), _by_keys)
    institute = df["originator"].isin(("UK", "AU"))
    source = df["originator"].where(~institute, INSTITUTE_REPORTING)
    return pd.DataFrame(
        {
            "category": df["category"],
            "originator": df["originator"].where(institute, "PUBLIC"),
            "source": source,
            "n": df["n"],
        }
    )


def _by_keys(r: tuple[Any, ...]) -> Any:
    return (r[0], r[1])


def _counted(rows: list[ExplorerRow], cols: tuple[str, ...], key: Any) -> pd.DataFrame:
    """Counts in the range by one or two keys (`k1`, `k2` named `cols`), sorted by `key`, zeros left out."""
    kept = sorted(((*(r.k1, r.k2)[: len(cols)], as_count(r.n_cur)) for r in rows), key=key)
    kept = [r for r in kept if r[-1] > 0]
    data: dict[str, Any] = {c: [r[i] for r in kept] for i, c in enumerate(cols)}
    data["n"] = np.array([r[-1] for r in kept], dtype="int64")
    return pd.DataFrame(data)


def _ranked(rows: list[ExplorerRow], col: str) -> pd.DataFrame:
    """Counts by one key, most first (ties by name)."""
    return _counted(rows, (col,), lambda r: (-r[-1], r[0]))


def _marking(row: ExplorerRow | None) -> Marking:
    if row is None:
        return Marking()
    return summed_marking(row.n, row.m_tlp, row.m_uk, row.m_au, row.m_sources)


# ---------------------------------------------------------------------------------------------------------------
# The incident table: server-side sorting over allow-listed columns, LIMIT/OFFSET paging in SQL.
# ---------------------------------------------------------------------------------------------------------------

# Sortable columns: label shown in the page -> SQL expression. Only these strings ever reach ORDER BY.
SORT_COLUMNS: dict[str, str] = {
    "Date": "i.occurred_on",
    "Reported": "i.reported_on",
    "Id": "i.id",
    "Title": "i.title",
    "Reported by": "i.originator",
    "Category": "i.category",
    "Severity": "i.severity",
    "Actor type": "i.actor_type",
    "Affected system": "i.affected_system",
    "Status": "i.status",
    "TLP": "list_position(['CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED'], i.tlp)",
}

TABLE_COLUMNS = (
    "i.id, i.occurred_on, i.title, i.originator, i.category, i.severity, i.actor_type, i.sectors, "
    "i.affected_system, i.developer, i.status, i.tlp, i.releasable_to"
)

PAGE_SIZES: tuple[int, ...] = (25, 50, 100)  # offered by the page
MAX_PAGE_SIZE = 500


def _order_by(sort: str, descending: bool) -> str:
    if sort not in SORT_COLUMNS:
        raise ValueError(f"cannot sort by {sort!r}")
    direction = "desc" if descending else "asc"
    # The id breaks ties so paging is stable (no row on two pages, none skipped).
    return f"{SORT_COLUMNS[sort]} {direction} nulls last, i.id {direction}"


def _rows_with_marking(
    con: duckdb.DuckDBPyConnection,
    rows_sql: str,
    order_by: str,
    params: dict[str, Any],
    drop: tuple[str, ...] = ("source", "named_recipients"),
) -> Scoped[pd.DataFrame]:
    """Run `rows_sql` (over `incidents i`, ordered and limited) once, and the marking of exactly its rows in
    the same statement. The result keeps the order; the marking columns and recipients are dropped."""
    sql = (
        f"with p as materialized ({rows_sql}) select i.*, m.* from p i cross join "
        f"(select {marking_select_sql('x')} from p x) m order by {order_by}"
    )
    df = con.execute(sql, params).df()
    if df.empty:
        marking = Marking(rows=0)
    else:
        r = df.iloc[0]
        marking = marking_from_row(r["m_tlp"], r["m_uk"], r["m_au"], r["m_rows"], list(r["m_sources"]))
    unwanted = ["m_tlp", "m_uk", "m_au", "m_rows", "m_sources", *drop]
    return Scoped(df.drop(columns=[c for c in unwanted if c in df.columns]), marking)


def incident_page(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    f: Filters,
    today: date,
    sort: str = "Date",
    descending: bool = True,
    page: int = 1,
    page_size: int = 50,
) -> Scoped[pd.DataFrame]:
    """One page of the matching incidents, sorted in SQL. The marking is that of the rows on the page."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page size must be between 1 and {MAX_PAGE_SIZE}")
    where, params = f.sql_where(viewer, today)
    params.update({"p_limit": page_size, "p_offset": max(0, page - 1) * page_size})
    order = _order_by(sort, descending)
    page_sql = (
        f"select {TABLE_COLUMNS}, i.source, i.named_recipients, i.reported_on from incidents i "
        f"where {where} order by {order} limit $p_limit offset $p_offset"
    )
    scoped = _rows_with_marking(con, page_sql, order, params)
    return Scoped(scoped.data.drop(columns=["reported_on"]), scoped.marking)


def page_count(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


EXPORT_ROW_LIMIT = 250_000  # a CSV beyond this is a job for the data exchange, not a browser download

EXPORT_COLUMNS = (
    "i.id, i.occurred_on, i.reported_on, i.title, i.summary, i.originator, i.source, i.category, i.severity, "
    "i.actor_type, i.sectors, i.countries, i.affected_system, i.developer, i.status, i.source_reliability, "
    "i.credibility, i.tlp, i.releasable_to"
)


def incidents_for_export(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    f: Filters,
    today: date,
    sort: str = "Date",
    descending: bool = True,
    limit: int = EXPORT_ROW_LIMIT,
) -> Scoped[pd.DataFrame]:
    """The filtered table for download, in the table's order, at most `limit` rows, with their marking."""
    where, params = f.sql_where(viewer, today)
    params["p_limit"] = int(limit)
    order = _order_by(sort, descending)
    sql = (
        f"select {EXPORT_COLUMNS}, i.named_recipients from incidents i where {where} "
        f"order by {order} limit $p_limit"
    )
    return _rows_with_marking(con, sql, order, params, drop=("named_recipients",))


# ---------------------------------------------------------------------------------------------------------------
# One incident: every field, techniques, related incidents (its evaluations: analytics.links.queries).
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentDetail:
    record: dict[str, Any]
    marking: Marking  # of this incident
    techniques: pd.DataFrame  # technique_id, name, tactics
    related: Scoped[pd.DataFrame]  # id, occurred_on, title, category, shared_techniques, same_system
    # Evaluations of the model and of the techniques: analytics.links.queries.evaluations_for_incident.


RELATED_LIMIT = 15


def incident_detail(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, incident_id: str
) -> IncidentDetail | None:
    """The incident with this id, or None when it does not exist OR the viewer may not see it (the same
    answer, so an id reveals nothing)."""
    vis, params = visible_sql(viewer, "incidents", "i")
    params["id"] = str(incident_id)[:100]
    df = con.execute(f"select i.* from incidents i where i.id = $id and {vis}", params).df()
    if df.empty:
        return None
    record = {str(k): v for k, v in df.iloc[0].to_dict().items()}
    marking = highest_marking(con, "incidents i", f"i.id = $id and {vis}", params)
    techniques = con.execute(
        "select it.technique_id, coalesce(t.name, '') as name, "
        "coalesce(string_agg(distinct ta.name, ', ' order by ta.name), '') as tactics "
        "from incident_techniques it left join atlas_techniques t on t.id = it.technique_id "
        "left join atlas_technique_tactics tt on tt.technique_id = it.technique_id "
        "or tt.technique_id = left(it.technique_id, 9) "
        "left join atlas_tactics ta on ta.id = tt.tactic_id "
        "where it.incident_id = $id group by all order by it.technique_id",
        {"id": record["id"]},
    ).df()

    # Related: visible incidents sharing a technique or the affected system, most shared techniques first.
    rel_where = (
        f"{vis} and i.id <> $id and (i.id in (select s.incident_id from shared s) "
        "or (i.affected_system = $system))"
    )
    rel_params = {**params, "system": record.get("affected_system")}
    shared_cte = (
        "with shared as (select o.incident_id, count(*) as n from incident_techniques o "
        "where o.technique_id in (select technique_id from incident_techniques where incident_id = $id) "
        "and o.incident_id <> $id group by 1) "
    )
    related_sql = (
        f"{shared_cte}select i.id, i.occurred_on, i.title, i.originator, i.category, i.affected_system, "
        "coalesce(s.n, 0)::integer as shared_techniques, "
        "coalesce(i.affected_system = $system, false) as same_system, "
        "i.tlp, i.releasable_to, i.named_recipients, i.source "
        f"from incidents i left join shared s on s.incident_id = i.id where {rel_where} "
        "order by shared_techniques desc, same_system desc, i.occurred_on desc, i.id limit $lim"
    )
    rel_params["lim"] = RELATED_LIMIT
    related = _rows_with_marking(
        con,
        related_sql,
        "shared_techniques desc, same_system desc, i.occurred_on desc, i.id",
        rel_params,
        drop=("named_recipients", "source", "releasable_to"),
    )

    return IncidentDetail(
        record=record,
        marking=marking,
        techniques=techniques,
        related=related,
    )
