"""Benchmark cases: one per page's main interaction (see analytics.bench.harness for how they are run)."""

from __future__ import annotations

from typing import Any

from analytics.bench.harness import BenchContext, case
from analytics.filters import Filters
from analytics.incidents import base as incident_base

_RECENT = Filters(preset="12m")


def _pandas_overview(ctx: BenchContext) -> Any:
    # The naive page: load every incident into pandas, apply markings and filters there, group.
    df = (
        ctx.store.cursor()
        .execute(
            "select id, originator, category, occurred_on, tlp, releasable_to, named_recipients from incidents"
        )
        .df()
    )
    v = ctx.viewer
    rel = df["releasable_to"].map(lambda r: v.institute in list(r))
    red = (df["tlp"] != "RED") | df["named_recipients"].map(lambda r: v.email in list(r))
    strict = (df["tlp"] != "AMBER+STRICT") | (df["originator"] == v.institute)
    start, end = _RECENT.date_range(ctx.today)
    occurred = df["occurred_on"].dt.date
    visible = df[rel & red & strict & (occurred >= start) & (occurred <= end)]
    return visible.groupby(["originator", "category"]).size()


def _raw_overview(ctx: BenchContext) -> Any:
    where, params = _RECENT.sql_where(ctx.viewer, ctx.today)
    return (
        ctx.store.cursor()
        .execute(f"select originator, category, count(*) from incidents i where {where} group by all", params)
        .fetchall()
    )


@case("store.counts", pandas=_pandas_overview, raw=_raw_overview)
def store_counts(ctx: BenchContext) -> Any:
    con = ctx.store.cursor()
    incident_base.store_totals(con, ctx.viewer, _RECENT, ctx.today)
    return incident_base.counts_by_originator_and_category(con, ctx.viewer, _RECENT, ctx.today)
