"""Viewer-scoped questions about incidents. One function per question, named after its answer.

Each takes a cursor, the viewer and the filters; markings and filters become one WHERE clause with bound
parameters (`Filters.sql_where`), and each result carries the marking of the rows behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

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
from analytics.filters import Filters, controlled_value
from analytics.stats.anomalies import DEFAULT_RULE, AnomalyRule, flag_grid

# Filterable dimensions: option name -> SQL expression over `incidents i` yielding one value per row.
# List columns are unnested so each sector or country counts once per incident.
OPTION_COLUMNS: dict[str, str] = {
    "originators": "i.originator",
    "categories": "i.category",
    "sectors": "unnest(i.sectors)",
    "countries": "unnest(i.countries)",
    "severities": "i.severity",
    "actor_types": "i.actor_type",
    "tlps": "i.tlp",
    "statuses": "i.status",
}


def marking_of(con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date) -> Marking:
    where, params = f.sql_where(viewer, today)
    return highest_marking(con, "incidents i", where, params)


def counts_by_originator_and_category(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[pd.DataFrame]:
    """Incident counts per originator and category, for what this viewer may see under these filters.

    One scan: rows are grouped by (originator, category) and their marking columns, then summed twice, once
    for the counts and once through markings.marking_select_sql for the marking."""
    where, params = f.sql_where(viewer, today)
    raw = con.execute(
        "with g as materialized (select i.originator, i.category, i.tlp, i.source, "
        "list_contains(i.releasable_to, 'UK') as rel_uk, list_contains(i.releasable_to, 'AU') as rel_au, "
        f"count(*) as n from incidents i where {where} group by all) "
        "select 'row' as part, originator, category, sum(n)::bigint as incidents, null::integer as m_tlp, "
        "null::boolean as m_uk, null::boolean as m_au, null::bigint as m_rows, null::varchar[] as m_sources "
        "from g group by all "
        f"union all select 'marking', null, null, {_marking_of_groups('g', 'n', pad=0)}",
        params,
    ).df()
    df = (
        raw[raw["part"] == "row"][["originator", "category", "incidents"]]
        .astype({"incidents": "int64"})
        .sort_values(
            ["originator", "incidents", "category"], ascending=[True, False, True], ignore_index=True
        )
    )
    m = raw[raw["part"] == "marking"].iloc[0]
    rows = int(m["incidents"]) if pd.notna(m["incidents"]) else 0
    marking = (
        marking_from_row(m["m_tlp"], m["m_uk"], m["m_au"], rows, list(m["m_sources"])) if rows else Marking()
    )
    return Scoped(df, marking)


def filter_options(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, today: date
) -> dict[str, list[tuple[Any, int]]]:
    """Values each filter can take and how many visible incidents have them, computed only over visible rows.

    Options ignore the other filters on purpose (choices don't vanish as one narrows) but never the markings.
    People who may not read records are offered vocabulary values only (`filters.controlled_value`).
    """
    where, params = Filters().sql_where(viewer, today)
    out: dict[str, list[tuple[Any, int]]] = {}
    for name, expr in OPTION_COLUMNS.items():
        rows = con.execute(
            f"select v, count(*) as n from (select {expr} as v from incidents i where {where}) "
            "where v is not null group by v order by n desc, v",
            params,
        ).fetchall()
        out[name] = [(v, int(n)) for v, n in rows]
    # Techniques and tactics in one statement: the visible incidents' technique rows are joined once, and the
    # technique -> tactic map (a sub-technique counts under its parent's tactics) is built over the few distinct
    # technique ids, not joined with an OR condition against every row (1.0 s -> 0.25 s at 1M incidents).
    ranked: dict[str, list[tuple[Any, int]]] = {"technique": [], "tactic": []}
    for kind, v, n in con.execute(
        f"""with hit as materialized (
                select it.incident_id, it.technique_id from incident_techniques it
                join incidents i on i.id = it.incident_id where {where}),
            tmap as (
                select distinct d.technique_id, tt.tactic_id
                from (select distinct technique_id from hit) d
                join atlas_technique_tactics tt
                  on tt.technique_id = d.technique_id or tt.technique_id = left(d.technique_id, 9))
            select 'technique', technique_id, count(*) from hit group by all
            union all
            select 'tactic', m.tactic_id, count(distinct h.incident_id) from hit h join tmap m using (technique_id)
            group by all
            order by 1, 3 desc, 2""",
        params,
    ).fetchall():
        ranked[kind].append((v, int(n)))
    out["techniques"] = ranked["technique"]
    out["tactics"] = ranked["tactic"]
    if not viewer.can_see_records:  # only vocabulary values are offered to (and applied for) them
        out = {k: [(v, n) for v, n in rows if controlled_value(k, v)] for k, rows in out.items()}
    return out


def store_totals(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[dict[str, int]]:
    """Visible incidents, and how many per originator, with the marking of all of them."""
    where, params = f.sql_where(viewer, today)
    row = con.execute(
        f"select count(*) filter (i.originator = 'UK'), count(*) filter (i.originator = 'AU'), "
        f"{marking_select_sql('i')} from incidents i where {where}",
        params,
    ).fetchone()
    assert row is not None
    uk, au, *m = row
    return Scoped({"UK": int(uk), "AU": int(au), "total": int(uk) + int(au)}, marking_from_row(*m))


# ---------------------------------------------------------------------------------------------------------------
# Explorer: everything the page shows after a filter change, in one round trip.
# ---------------------------------------------------------------------------------------------------------------

# Period lengths for the trend: label -> date_trunc part (a fixed string, never user text).
GRAINS: dict[str, str] = {"week": "week", "month": "month", "quarter": "quarter"}


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
    "sector": Dimension("Sector", "unnest(b.sectors)", "sectors", unnest=True),
    "severity": Dimension("Severity", "b.severity::varchar", "severities"),
    "actor": Dimension("Actor type", "coalesce(b.actor_type, 'unknown')", "actor_types"),
}

HIGH_SEVERITY = 4  # "high" and "critical" on the 1-5 scale (vocab.SEVERITY_LABELS)
TOP_SYSTEMS = 10


def _trunc(d: date, grain: str) -> date:
    if grain == "week":
        return d - timedelta(days=d.weekday())
    if grain == "month":
        return d.replace(day=1)
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def _step(d: date, grain: str, n: int) -> date:
    """`d` (a period start) moved by n periods."""
    if grain == "week":
        return d + timedelta(weeks=n)
    months = n * (3 if grain == "quarter" else 1)
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return date(y, m + 1, 1)


def period_grid(first: date, last: date, grain: str) -> list[date]:
    out, p = [], _trunc(first, grain)
    end = _trunc(last, grain)
    while p <= end:
        out.append(p)
        p = _step(p, grain, 1)
    return out


@dataclass(frozen=True)
class Headline:
    """Headline figures for the filtered set; `prev_*` are None when there is no previous period (open range)."""

    incidents: int
    high_share: float | None  # share of incidents with severity >= 4, None when there are none
    sectors: int
    prev_incidents: int | None = None
    prev_high_share: float | None = None
    prev_sectors: int | None = None


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
    by_originator: pd.DataFrame  # category, originator, n
    heatmap: pd.DataFrame  # category, sector, n
    actors: pd.DataFrame  # actor_type, n
    severities: pd.DataFrame  # severity, n
    systems: pd.DataFrame  # affected_system, n  (top TOP_SYSTEMS)
    developers: pd.DataFrame  # developer, n  (top TOP_SYSTEMS)
    marking: Marking  # the rows in the range: every chart and the table
    baseline_marking: Marking  # the range plus the previous period and the anomaly baseline

    @property
    def empty(self) -> bool:
        return self.headline.incidents == 0


# The marking columns every branch of a summary query carries (null where a branch has nothing to say).
_NO_MARKING = (
    "null::integer as m_tlp, null::boolean as m_uk, null::boolean as m_au, null::bigint as m_rows, "
    "null::varchar[] as m_sources"
)


def _marking_of_groups(source: str, count: str, pad: int = 4) -> str:
    """Marking columns over a small grouped relation with boolean `rel_uk`/`rel_au`, `tlp`, `source` and a
    row count column: releasability is rebuilt as a list so markings.marking_select_sql applies unchanged."""
    return (
        f"sum(i.{count})::bigint, {'null, ' * pad}{marking_select_sql('i')} "
        f"from (select g.tlp, g.source, g.{count}, "
        "list_filter(['AU', 'UK'], lambda x: (x = 'AU' and g.rel_au) or (x = 'UK' and g.rel_uk)) "
        f"as releasable_to from {source} g where g.{count} > 0) i"
    )


def _explorer_sql(where: str, grain: str, dim: Dimension) -> str:
    """The matching rows are read once (a CTE DuckDB streams to its consumers) and folded by five
    aggregates: the trend (period × split value), a small cube of the low-cardinality fields (category,
    originator, severity, actor: a few hundred groups, from which the headline, UK/AU, actor and severity
    are summed), the marking groups (tlp, releasability, source), the category × sector heat (sectors
    unnested) and affected system × developer. A UNION ALL of small reshaping selects returns everything in
    one round trip, with the same columns for every part.

    Strings are grouped as few times as possible: each GROUP BY over a million rows costs 20-60 ms of CPU
    here, so the cube replaces four separate passes (and splitting markings out of it is cheaper than one
    eight-key cube). Measured with `python -m analytics bench` (explorer.recompute*).
    """
    trunc = GRAINS[grain]
    hi = f"severity >= {HIGH_SEVERITY}"
    counts = (
        "count(*) as n, count(*) filter (cur) as n_cur, count(*) filter (prev) as n_prev, "
        f"count(*) filter (cur and {hi}) as hi_cur, count(*) filter (prev and {hi}) as hi_prev"
    )
    sums = (
        "sum(n)::bigint as n, sum(n_cur)::bigint as n_cur, sum(n_prev)::bigint as n_prev, "
        "sum(hi_cur)::bigint as hi_cur, sum(hi_prev)::bigint as hi_prev"
    )
    trend_value = "unnest(b.sectors)" if dim.unnest else dim.expr

    def from_cube(part: str, k1: str = "null", k2: str = "null") -> str:
        return (
            f"select '{part}' as part, {k1}::varchar as k1, {k2}::varchar as k2, null::date as period, "
            f"{sums}, {_NO_MARKING} from cube group by all"
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
        f"sum(hi_cur)::bigint, sum(hi_prev)::bigint, {_NO_MARKING} from "
        + ("totals" if dim.unnest else "trend")
        + " group by all",
        f"select 'trend', v, null, period, n, n_cur, n_prev, hi_cur, hi_prev, {_NO_MARKING} from trend",
        from_cube("cat_orig", "category", "originator"),
        f"select 'heat', category, s, null, n, n_cur, n_prev, hi_cur, hi_prev, {_NO_MARKING} from heat",
        from_cube("actor", "actor_type"),
        from_cube("severity", "severity"),
        top("system", "affected_system"),
        top("developer", "developer"),
        # Markings of the rows in range ('cur') and of every row read ('all').
        "(select 'marking', 'cur', null, null, " + _marking_of_groups("marks", "n_cur") + ")",
        "(select 'marking', 'all', null, null, " + _marking_of_groups("marks", "n") + ")",
    ]
    # `base` is re-read by each consumer rather than materialised: at 10M incidents a materialised copy of the
    # matching rows outgrows the store's memory_limit and spills to disk (2.3 s against 1.1 s re-reading it).
    ctes = [
        "base as not materialized (select i.category, i.originator, i.severity, coalesce(i.actor_type, 'unknown') as actor_type, "
        "i.sectors, i.affected_system, i.developer, i.tlp, i.source, "
        "list_contains(i.releasable_to, 'UK') as rel_uk, list_contains(i.releasable_to, 'AU') as rel_au, "
        f"date_trunc('{trunc}', i.occurred_on)::date as period, "
        "(i.occurred_on >= coalesce($x_cur_from, i.occurred_on)) as cur, "
        "coalesce(i.occurred_on between $x_prev_from and $x_prev_to, false) as prev "
        f"from incidents i where {where})",
        f"trend as materialized (select period, v, {counts} from (select b.period, {trend_value} as v, "
        "b.cur, b.prev, b.severity from base b) group by all)",
        # Only the trend and the markings need the baseline rows read before the range.
        f"cube as materialized (select category, originator, severity, actor_type, {counts} from base "
        "where cur or prev group by all)",
        "marks as materialized (select tlp, rel_uk, rel_au, source, count(*) as n, "
        "count(*) filter (cur) as n_cur from base group by all)",
        f"heat as (select category, s, {counts} from (select category, unnest(sectors) as s, cur, prev, "
        "severity from base where cur or prev) group by all)",
        "systems as materialized (select affected_system, developer, count(*) as n_cur "
        "from base where cur group by all)",
    ]
    if dim.unnest:
        ctes.append(f"totals as (select period, {counts} from base group by all)")
    return "with " + ", ".join(ctes) + " " + " union all ".join(selects)


def _bounds(f: Filters, today: date, grain: str, rule: AnomalyRule) -> tuple[Filters, dict[str, Any]]:
    """The filters widened back to cover the previous period and the anomaly baseline, and the range params."""
    start, end = f.date_range(today)
    prev = f.previous_period(today)
    prev_from, prev_to = prev.date_range(today) if prev else (None, None)
    wide_from = None
    if start is not None:
        wide_from = _step(_trunc(start, grain), grain, -rule.window)
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
) -> ExplorerData:
    """Everything the explorer's figures and charts need, for what this viewer may see under these filters.

    One SQL statement (`explorer_query`): the matching rows, widened back over the previous period and the
    anomaly baseline, are read once and folded by a few aggregates, so a filter change costs one scan of the
    table however many charts the page draws.
    """
    sql, params, wide, extra = explorer_query(viewer, f, today, grain, dimension, rule)
    # The answer is a few thousand aggregate rows: plain tuples are much cheaper to reshape than a
    # DataFrame (pandas' per-call overhead dominated once the SQL was down to one read).
    parts: dict[str, list[tuple[Any, ...]]] = {}
    for row in con.execute(sql, params).fetchall():
        parts.setdefault(row[0], []).append(row[1:])
    # row layout after `part`: k1, k2, period, n, n_cur, n_prev, hi_cur, hi_prev, m_tlp, m_uk, m_au, m_rows, m_src
    K1, K2, PERIOD, N, N_CUR, N_PREV, HI_CUR, HI_PREV = range(8)

    def num(v: Any) -> int:
        return 0 if v is None else int(v)

    start, end = f.date_range(today)
    has_prev = extra["x_prev_from"] is not None

    # Headline figures.
    head = (parts.get("head") or [(None,) * 13])[0]
    n_cur, n_prev, hi_cur, hi_prev = (num(head[i]) for i in (N_CUR, N_PREV, HI_CUR, HI_PREV))
    sector_cur: dict[str, int] = {}
    sector_prev: dict[str, int] = {}
    for r in parts.get("heat", []):
        sector_cur[r[K2]] = sector_cur.get(r[K2], 0) + num(r[N_CUR])
        sector_prev[r[K2]] = sector_prev.get(r[K2], 0) + num(r[N_PREV])
    headline = Headline(
        incidents=n_cur,
        high_share=hi_cur / n_cur if n_cur else None,
        sectors=sum(1 for v in sector_cur.values() if v > 0),
        prev_incidents=n_prev if has_prev else None,
        prev_high_share=(hi_prev / n_prev if n_prev else None) if has_prev else None,
        prev_sectors=sum(1 for v in sector_prev.values() if v > 0) if has_prev else None,
    )

    # Periods: the baseline grid (for anomaly tests) and the chart grid (the range itself).
    total = {r[PERIOD]: r for r in parts.get("total", [])}
    last = end or (max(max(total), today) if total else today)
    first_base = wide.date_range(today)[0] or (min(total) if total else last)
    base_grid = period_grid(first_base, last, grain)
    first_chart = _trunc(start or first_base, grain)
    chart_grid = [p for p in base_grid if p >= first_chart]
    in_chart = set(chart_grid)

    def partial(d: date) -> bool:
        period_end = _step(d, grain, 1) - timedelta(days=1)
        return (start is not None and d < start) or period_end > min(last, today)

    totals = pd.DataFrame(
        {
            "period": pd.to_datetime(chart_grid),
            "n": pd.array([num(total[p][N_CUR]) if p in total else 0 for p in chart_grid], dtype="int64"),
            "high": pd.array([num(total[p][HI_CUR]) if p in total else 0 for p in chart_grid], dtype="int64"),
            "partial": [partial(p) for p in chart_grid],
        }
    )
    trend_rows = sorted(
        (r[PERIOD], str(r[K1]), num(r[N_CUR]))
        for r in parts.get("trend", [])
        if r[PERIOD] in in_chart and r[K1] is not None and num(r[N_CUR]) > 0
    )
    trend = pd.DataFrame(
        {
            "period": pd.to_datetime([r[0] for r in trend_rows]),
            "value": [r[1] for r in trend_rows],
            "n": pd.array([r[2] for r in trend_rows], dtype="int64"),
        }
    )

    # Anomalies: whole periods (baseline rows included) tested against their trailing baseline; only the
    # chart's periods are reported.
    seen = [p for p, r in total.items() if num(r[N]) > 0]
    observed = [p for p in base_grid if p >= min(seen)] if seen else []
    series: dict[str, dict[date, int]] = {"All incidents": {p: num(r[N]) for p, r in total.items()}}
    for r in parts.get("trend", []):
        if r[K1] is not None:
            series.setdefault(str(r[K1]), {})[r[PERIOD]] = num(r[N])
    anomalies = flag_grid(series, observed, rule)
    anomalies = anomalies[anomalies["period"].isin(pd.to_datetime(chart_grid))].reset_index(drop=True)

    def counted(name: str, cols: tuple[str, ...], key: Any) -> pd.DataFrame:
        rows = sorted(
            ((*(r[K1 + i] for i in range(len(cols))), num(r[N_CUR])) for r in parts.get(name, [])),
            key=key,
        )
        rows = [r for r in rows if r[-1] > 0]
        data: dict[str, Any] = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
        data["n"] = np.array([r[-1] for r in rows], dtype="int64")
        return pd.DataFrame(data)

    by_originator = counted("cat_orig", ("category", "originator"), lambda r: (r[0], r[1]))
    heatmap = counted("heat", ("category", "sector"), lambda r: (r[0], r[1]))

    def ranked(name: str, col: str) -> pd.DataFrame:
        return counted(name, (col,), lambda r: (-r[-1], r[0]))

    severities = counted("severity", ("severity",), lambda r: int(r[0]))
    severities["severity"] = np.array([int(v) for v in severities["severity"]], dtype="int64")

    marks = {r[K1]: r for r in parts.get("marking", [])}

    def marking(key: str) -> Marking:
        r = marks.get(key)
        if r is None or not num(r[N]):
            return Marking()
        return marking_from_row(r[8], r[9], r[10], num(r[N]), list(r[12] or []))

    return ExplorerData(
        grain=grain,
        dimension=dimension,
        start=start,
        end=end,
        headline=headline,
        totals=totals,
        trend=trend,
        anomalies=anomalies,
        by_originator=by_originator,
        heatmap=heatmap,
        actors=ranked("actor", "actor_type"),
        severities=severities,
        systems=ranked("system", "affected_system"),
        developers=ranked("developer", "developer"),
        marking=marking("cur"),
        baseline_marking=marking("all"),
    )


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


# ---------------------------------------------------------------------------------------------------------------
# Overview: fixed windows (last 30 and 90 days) for readers who want the picture in ten seconds.
# ---------------------------------------------------------------------------------------------------------------

RISING_MIN_COUNT = 10  # a category needs this many incidents in the last 90 days to be called "rising"
RISING_MIN_Z = 2.0  # and a rise of at least two standard deviations (Poisson) over the previous 90 days
SPARK_WEEKS = 26
OVERVIEW_ANOMALY_MONTHS = 6  # anomalies flagged in the last six months are listed


@dataclass(frozen=True)
class WindowFigures:
    days: int
    incidents: int
    prev_incidents: int
    high: int
    prev_high: int

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


def rising(df: pd.DataFrame, limit: int = 5) -> pd.DataFrame:
    """Values (columns value, n, prev) that rose most in relative terms, guarded against tiny numbers:
    at least RISING_MIN_COUNT now and a Poisson z of at least RISING_MIN_Z for the difference."""
    if df.empty:
        return df.assign(change=pd.Series(dtype=float))
    z = (df["n"] - df["prev"]) / (df["n"] + df["prev"]).clip(lower=1) ** 0.5
    keep = df[(df["n"] >= RISING_MIN_COUNT) & (z >= RISING_MIN_Z)].copy()
    keep["change"] = (keep["n"] - keep["prev"]) / keep["prev"].where(keep["prev"] > 0)
    keep["_rank"] = keep["change"].fillna(float("inf"))
    keep = keep.sort_values(["_rank", "n", "value"], ascending=[False, False, True]).head(limit)
    return keep.drop(columns="_rank").reset_index(drop=True)


def overview_query(
    viewer: Viewer, f: Filters, today: date, rule: AnomalyRule = DEFAULT_RULE
) -> tuple[str, dict[str, Any], date, date, date]:
    """The overview's one statement and parameters, and the first anomaly-baseline month, the first sparkline
    week and the first month whose flags are listed.

    One read serves both halves of the page: the fixed windows (the last ~19 months: 90+90 days, 26 weeks,
    six flagged months and their baselines) and the split by category for the sidebar's own period. The rows
    read are the union of the two ranges; `recent` and `chosen` say which half a row counts in."""
    month0 = _step(_trunc(today, "month"), "month", -(OVERVIEW_ANOMALY_MONTHS - 1))
    anomaly_from = _step(month0, "month", -rule.window)
    spark_from = _step(_trunc(today, "week"), "week", -(SPARK_WEEKS - 1))
    read_from = min(today - timedelta(days=179), anomaly_from, spark_from)
    chosen_from, chosen_to = f.date_range(today)
    wide_from = None if chosen_from is None else min(chosen_from, read_from)
    wide_to = None if chosen_to is None else max(chosen_to, today)
    where, params = f.with_dates(wide_from, wide_to).sql_where(viewer, today)
    params.update(
        {
            "o_read": read_from,
            "o_today": today,
            "o_30": today - timedelta(days=29),
            "o_60": today - timedelta(days=59),
            "o_90": today - timedelta(days=89),
            "o_180": today - timedelta(days=179),
            "o_spark": spark_from,
            "o_from": chosen_from,
            "o_to": chosen_to,
        }
    )
    hi = f"i.severity >= {HIGH_SEVERITY}"
    zeros = "0, 0, 0, 0, 0, 0, " + _NO_MARKING
    sql = (
        # Not materialised, as in the explorer (see _explorer_sql): re-reading is cheaper than spilling.
        "with base as not materialized (select i.category, i.originator, i.sectors, i.occurred_on, i.severity, "
        "i.occurred_on between $o_read and $o_today as recent, "
        "i.occurred_on between coalesce($o_from, i.occurred_on) and coalesce($o_to, i.occurred_on) as chosen, "
        "i.tlp, i.source, list_contains(i.releasable_to, 'UK') as rel_uk, "
        f"list_contains(i.releasable_to, 'AU') as rel_au from incidents i where {where}), "
        # Per-row work only for the rows the fixed windows use.
        "recent as materialized (select i.category, i.sectors, i.occurred_on, "
        "date_trunc('month', i.occurred_on)::date as month, date_trunc('week', i.occurred_on)::date as week, "
        "i.occurred_on >= $o_90 as in90, i.occurred_on < $o_90 and i.occurred_on >= $o_180 as in_prev90, "
        f"{hi} as high from base i where i.recent), "
        "marks as materialized (select tlp, rel_uk, rel_au, source, count(*) filter (recent) as n_recent, "
        "count(*) filter (chosen) as n_chosen from base group by all) "
        "select 'head' as part, null::varchar as k, null::varchar as k2, null::date as period, "
        "count(*) filter (occurred_on >= $o_30) as a, count(*) filter (occurred_on >= $o_60 "
        "and occurred_on < $o_30) as b, count(*) filter (in90) as c, count(*) filter (in_prev90) as d, "
        "count(*) filter (high and occurred_on >= $o_30) as e, count(*) filter (high and occurred_on >= $o_60 "
        "and occurred_on < $o_30) as f, count(*) filter (high and in90) as g, "
        f"count(*) filter (high and in_prev90) as h, {_NO_MARKING} from recent "
        f"union all select 'week', null, null, week, count(*), 0, {zeros} from recent "
        "where week >= $o_spark group by all "
        f"union all select 'month', category, null, month, count(*), 0, {zeros} from recent group by all "
        "union all select 'category', category, null, null, count(*) filter (in90), "
        f"count(*) filter (in_prev90), {zeros} from recent group by all "
        "union all select 'sector', s, null, null, count(*) filter (in90), count(*) filter (in_prev90), "
        f"{zeros} from (select unnest(sectors) as s, in90, in_prev90 from recent) group by all "
        f"union all select 'by_category', category, originator, null, count(*), 0, {zeros} from base "
        "where chosen group by all "
        f"union all select 'marking', 'recent', null, null, {_marking_of_groups('marks', 'n_recent', pad=7)} "
        f"union all select 'marking', 'chosen', null, null, {_marking_of_groups('marks', 'n_chosen', pad=7)}"
    )
    return sql, params, anomaly_from, spark_from, month0


def overview_summary(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    f: Filters,
    today: date,
    rule: AnomalyRule = DEFAULT_RULE,
) -> OverviewData:
    """The overview's figures for what this viewer may see. The fixed windows (last 30/90 days against the
    30/90 before, 26 weeks of trend, monthly anomaly baselines) replace the sidebar's dates; every other
    filter applies. `by_category` follows the sidebar's period too."""
    sql, params, anomaly_from, spark_from, month0 = overview_query(viewer, f, today, rule)
    parts: dict[str, list[tuple[Any, ...]]] = {}
    for row in con.execute(sql, params).fetchall():
        parts.setdefault(row[0], []).append(row[1:])
    # row layout after `part`: k, k2, period, a, b, c, d, e, f, g, h, m_tlp, m_uk, m_au, m_rows, m_sources

    def num(v: Any) -> int:
        return 0 if v is None else int(v)

    def marking(key: str) -> Marking:
        r = next((r for r in parts.get("marking", []) if r[0] == key), None)
        if r is None or not num(r[3]):
            return Marking()
        return marking_from_row(r[11], r[12], r[13], num(r[3]), list(r[15] or []))

    head = [num(v) for v in parts["head"][0][3:11]]
    windows = (
        WindowFigures(30, head[0], head[1], head[4], head[5]),
        WindowFigures(90, head[2], head[3], head[6], head[7]),
    )
    week_grid = period_grid(spark_from, today, "week")
    per_week = {r[2]: num(r[3]) for r in parts.get("week", [])}
    weekly = pd.DataFrame(
        {
            "period": pd.to_datetime(week_grid),
            "n": np.array([per_week.get(w, 0) for w in week_grid], dtype="int64"),
        }
    )

    def changes(name: str) -> pd.DataFrame:
        rows = parts.get(name, [])
        df = pd.DataFrame(
            {
                "value": [str(r[0]) for r in rows],
                "n": np.array([num(r[3]) for r in rows], dtype="int64"),
                "prev": np.array([num(r[4]) for r in rows], dtype="int64"),
            }
        )
        return rising(df)

    monthly: dict[str, dict[date, int]] = {}
    for r in parts.get("month", []):
        monthly.setdefault(str(r[0]), {})[r[2]] = num(r[3])
    seen = [p for series in monthly.values() for p, n in series.items() if n > 0]
    month_grid = [p for p in period_grid(anomaly_from, today, "month") if seen and p >= min(seen)]
    anomalies = flag_grid(monthly, month_grid, rule)
    anomalies = anomalies[anomalies["period"] >= pd.Timestamp(month0)].reset_index(drop=True)
    by_cat = sorted(
        ((str(r[1]), str(r[0]), num(r[3])) for r in parts.get("by_category", [])),
        key=lambda r: (r[0], -r[2], r[1]),
    )
    by_category = pd.DataFrame(
        {
            "originator": [r[0] for r in by_cat],
            "category": [r[1] for r in by_cat],
            "incidents": np.array([r[2] for r in by_cat], dtype="int64"),
        }
    )
    return OverviewData(
        windows=windows,
        weekly=weekly,
        rising_categories=changes("category"),
        rising_sectors=changes("sector"),
        anomalies=anomalies,
        marking=marking("recent"),
        by_category=Scoped(by_category, marking("chosen")),
    )
