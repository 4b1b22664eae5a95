"""Benchmark cases for the incident explorer and the overview (see analytics.bench.harness for how they are run).

`explorer.recompute` is what the explorer does after a filter change: the one-statement summary (headline
figures, trend with anomaly flags, UK/AU, breakdowns), the first page of the table and the trend figure the
page draws (built, made inert and serialised as st.plotly_chart would). `explorer.recompute_all`
is the same over all time (the heaviest view, and the page's default). `overview.recompute` is everything the
overview page queries and its one figure.

Each has a pandas baseline that answers the same questions the naive way (load the table, apply markings and
filters in pandas, group), and the raw time of the case's single heaviest SQL statement.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from analytics.access.viewer import Viewer
from analytics.bench.harness import BenchContext, case
from analytics.charts import inert_figure
from analytics.filters import Filters
from analytics.incidents import base as incident_base
from analytics.incidents import charts as incident_charts
from analytics.incidents import explorer as incident_explorer
from analytics.incidents import overview as incident_overview

_CHANGED = Filters(preset="12m", severities=(3, 4, 5))  # a typical narrowing: last year, moderate and above
_ALL = Filters()


def _explorer(ctx: BenchContext, f: Filters) -> Any:
    con = ctx.store.cursor()
    summary = incident_explorer.explorer_summary(con, ctx.viewer, f, ctx.today, "month", "category")
    page = incident_explorer.incident_page(con, ctx.viewer, f, ctx.today, "Date", True, 1, 50)
    data = summary
    # The page opens on the Trend tab; the other tabs' figures are built only when opened.
    trend = incident_charts.trend_chart(
        data.totals,
        data.trend,
        data.anomalies,
        grain="month",
        dimension="category",
        dimension_field=incident_explorer.DIMENSIONS["category"].filter_attr,
        mode="stacked",
        start=data.start,
        end=data.end,
    )
    return summary, page, inert_figure(trend).to_json()


def _load_all(ctx: BenchContext) -> pd.DataFrame:
    return (
        ctx.store.cursor()
        .execute(
            "select id, occurred_on, title, originator, category, severity, actor_type, sectors, "
            "affected_system, developer, status, tlp, releasable_to, named_recipients, source from incidents"
        )
        .df()
    )


def _visible(df: pd.DataFrame, v: Viewer) -> pd.Series:
    rel = df["releasable_to"].map(lambda r: v.institute in list(r))
    red = (df["tlp"] != "RED") | df["named_recipients"].map(lambda r: v.email in list(r))
    strict = (df["tlp"] != "AMBER+STRICT") | (df["originator"] == v.institute)
    return rel & red & strict


def _in(df: pd.DataFrame, start: date | None, end: date | None) -> pd.Series:
    d = df["occurred_on"]
    keep = pd.Series(True, index=df.index)
    if start is not None:
        keep &= d >= pd.Timestamp(start)
    if end is not None:
        keep &= d <= pd.Timestamp(end)
    return keep


def _pandas_explorer(ctx: BenchContext, f: Filters) -> Any:
    # The naive page: everything into pandas, markings and filters there, then every aggregate.
    df = _load_all(ctx)
    df = df[_visible(df, ctx.viewer)]
    if f.severities:
        df = df[df["severity"].isin(f.severities)]
    start, end = f.date_range(ctx.today)
    cur = df[_in(df, start, end)]
    prev_f = f.previous_period(ctx.today)
    if prev_f is not None:
        p0, p1 = prev_f.date_range(ctx.today)
        prev = df[_in(df, p0, p1)]
        _ = (len(prev), (prev["severity"] >= 4).mean(), prev["sectors"].explode().nunique())
    base_from = start - timedelta(days=200) if start else None
    base = df[_in(df, base_from, end)]
    month = base["occurred_on"].dt.to_period("M")
    trend = base.groupby([month, base["category"]]).size()
    totals = base.groupby(month).size()
    exploded = cur[["category", "sectors"]].explode("sectors")
    return (
        len(cur),
        (cur["severity"] >= 4).mean(),
        trend,
        totals,
        cur.groupby(["category", "originator"]).size(),
        exploded.groupby(["category", "sectors"]).size(),
        cur.groupby("actor_type").size(),
        cur.groupby("severity").size(),
        cur["affected_system"].value_counts().head(10),
        cur["developer"].value_counts().head(10),
        cur.sort_values(["occurred_on", "id"], ascending=False).head(50),
        cur["tlp"].unique(),
    )


def _raw_explorer(ctx: BenchContext, f: Filters) -> Any:
    sql, params, _, _ = incident_explorer.explorer_query(ctx.viewer, f, ctx.today, "month", "category")
    return ctx.store.cursor().execute(sql, params).fetchall()


@case(
    "explorer.recompute",
    pandas=lambda ctx: _pandas_explorer(ctx, _CHANGED),
    raw=lambda ctx: _raw_explorer(ctx, _CHANGED),
)
def explorer_recompute(ctx: BenchContext) -> Any:
    return _explorer(ctx, _CHANGED)


@case(
    "explorer.recompute_all",
    pandas=lambda ctx: _pandas_explorer(ctx, _ALL),
    raw=lambda ctx: _raw_explorer(ctx, _ALL),
)
def explorer_recompute_all(ctx: BenchContext) -> Any:
    return _explorer(ctx, _ALL)


def _pandas_overview(ctx: BenchContext) -> Any:
    df = _load_all(ctx)
    df = df[_visible(df, ctx.viewer)]
    t = pd.Timestamp(ctx.today)
    d = df["occurred_on"]
    recent = df[d >= t - pd.Timedelta(days=560)]
    rd = recent["occurred_on"]
    in90 = rd >= t - pd.Timedelta(days=89)
    prev90 = (rd < t - pd.Timedelta(days=89)) & (rd >= t - pd.Timedelta(days=179))
    sectors = recent[["sectors"]].assign(in90=in90, prev90=prev90).explode("sectors")
    return (
        (rd >= t - pd.Timedelta(days=29)).sum(),
        in90.sum(),
        prev90.sum(),
        recent[rd >= t - pd.Timedelta(days=182)].groupby(rd.dt.to_period("W")).size(),
        recent.groupby([rd.dt.to_period("M"), recent["category"]]).size(),
        recent[in90].groupby("category").size(),
        recent[prev90].groupby("category").size(),
        sectors[sectors["in90"]].groupby("sectors").size(),
        sectors[sectors["prev90"]].groupby("sectors").size(),
        df.groupby(["originator", "category"]).size(),
        df["tlp"].unique(),
    )


def _raw_overview(ctx: BenchContext) -> Any:
    sql, params, *_ = incident_overview.overview_query(ctx.viewer, _ALL, ctx.today)
    return ctx.store.cursor().execute(sql, params).fetchall()


@case("overview.recompute", pandas=_pandas_overview, raw=_raw_overview)
def overview_recompute(ctx: BenchContext) -> Any:
    # What pages/overview.py asks: the fixed windows and the by-category split of the sidebar's period, in one.
    summary = incident_overview.overview_summary(ctx.store.cursor(), ctx.viewer, _ALL, ctx.today)
    figure = incident_charts.category_by_originator_chart(summary.by_category.data)
    return summary, incident_charts.sparkline_values(summary.weekly), inert_figure(figure).to_json()


# The sidebar's facet counts after a category is chosen (then the chosen facet is counted under a WHERE clause of
# its own, so the table is read twice). Every page with incident filters asks this on each filter change.
_FACETED = Filters(categories=("Prompt injection",), severities=(3, 4, 5))


def _pandas_facets(ctx: BenchContext) -> Any:
    # The naive way: everything into pandas, then each facet counted under every filter but its own.
    df = _load_all(ctx)[
        ["id", "category", "severity", "sectors", "tlp", "originator", "status", "actor_type"]
    ]
    df = df[_visible(_load_all(ctx), ctx.viewer)]
    techniques = ctx.store.cursor().execute("select incident_id, technique_id from incident_techniques").df()
    in_category = df["category"].isin(_FACETED.categories)
    in_severity = df["severity"].isin(_FACETED.severities)
    both = df[in_category & in_severity]
    return (
        df[in_severity]["category"].value_counts(),
        df[in_category]["severity"].value_counts(),
        *(both[c].value_counts() for c in ("tlp", "originator", "status", "actor_type")),
        both["sectors"].explode().value_counts(),
        techniques[techniques["incident_id"].isin(both["id"])]["technique_id"].value_counts(),
    )


def _raw_facets(ctx: BenchContext) -> Any:
    # The statement the app sends: the rollup under the filters other than category and severity.
    sql, params = incident_base.facet_query(ctx.viewer, ctx.today, incident_base.rollup_filters(_FACETED))
    return ctx.store.cursor().execute(sql, params).fetchall()


@case("sidebar.facets", pandas=_pandas_facets, raw=_raw_facets)
def sidebar_facets(ctx: BenchContext) -> Any:
    return incident_base.filter_options(ctx.store.cursor(), ctx.viewer, ctx.today, _FACETED)
