"""The explorer's one-pass statement (GROUPING SETS, issue 21) against the five-pass statement it replaced: the same
rows, value for value, for every period length and split, over filters that exercise each grouping's condition
(open ranges, a previous period, anomaly baselines, imprecise dates, sectors unnested), for viewers who see
different rows. The five-pass statement is kept here, verbatim, as the reference answer.

Both run on the demo store of tests/conftest.py (3,000 generated incidents) and on the hand-made rows of the
explorer's own tests (seed_known_incidents: imprecise dates, public sources, a missing actor)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from analytics.access.viewer import Viewer
from analytics.filters import Filters, source_sql
from analytics.incidents import explorer, grids
from analytics.incidents.base import HIGH_SEVERITY, NO_MARKING, marking_of_groups
from analytics.incidents.explorer import _TRUNC, DIMENSIONS, TOP_SYSTEMS, Dimension
from analytics.periods import GRAINS
from analytics.sources import PUBLIC_ORIGINATOR
from tests.analytics.incidents.test_incidents_explorer import seed_known_incidents
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST, UK_POLICY


def five_pass_sql(where: str, grain: str, dim: Dimension) -> str:
    """The explorer's statement before issue 21, verbatim: five aggregates, each re-reading the matching rows."""
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
    # `base` is re-read by each consumer rather than materialised: at 10M incidents a materialised copy of the
    # matching rows outgrows the store's memory_limit and spills to disk (2.3 s against 1.1 s re-reading it).
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
        f"trend as materialized (select period, v, {counts}, count(*) filter (inst) as n_inst from (select "
        f"b.period, {trend_value} as v, b.cur, b.prev, b.severity, b.inst from base b where b.precise) "
        "group by all)",
        # Only the trend and the markings need the baseline rows read before the range.
        f"cube as materialized (select category, originator, source_kind, severity, actor_type, {counts} from base "
        "where cur or prev group by all)",
        "marks as materialized (select tlp, rel_uk, rel_au, source, count(*) as n, "
        "count(*) filter (cur) as n_cur, count(*) filter (cur and not precise) as n_imprecise "
        "from base group by all)",
        f"heat as (select category, s, {counts} from (select category, unnest(sectors) as s, cur, prev, "
        "severity from base where cur or prev) group by all)",
        "systems as materialized (select affected_system, developer, count(*) as n_cur "
        "from base where cur group by all)",
    ]
    if dim.unnest:
        ctes.append(
            f"totals as (select period, {counts}, count(*) filter (inst) as n_inst from base where precise "
            "group by all)"
        )
    return "with " + ", ".join(ctes) + " " + " union all ".join(selects)


FILTERS = [
    Filters(),
    Filters(preset="12m"),
    Filters(preset="90d", categories=("Jailbreak", "Prompt injection")),
    Filters(preset="custom", date_from=date(2025, 3, 1), date_to=date(2025, 9, 30)),
    Filters(preset="30d", severities=(4, 5)),
]


def _both(con: Any, viewer: Viewer, f: Filters, grain: str, dimension: str) -> tuple[list[Any], list[Any]]:
    sql, params, wide, _ = explorer.explorer_query(viewer, f, TODAY, grain, dimension)
    where, _ = wide.sql_where(viewer, TODAY)
    old = con.execute(five_pass_sql(where, grain, DIMENSIONS[dimension]), params).fetchall()
    new = con.execute(sql, params).fetchall()
    return sorted(old, key=repr), sorted(new, key=repr)


@pytest.mark.parametrize("grain", GRAINS)
@pytest.mark.parametrize("dimension", list(DIMENSIONS))
def test_one_pass_answers_as_five_passes_on_the_demo_store(demo_store, grain: str, dimension: str) -> None:
    con = demo_store.cursor()
    for viewer in (UK_ANALYST, AU_ANALYST, UK_POLICY):
        for f in FILTERS:
            old, new = _both(con, viewer, f, grain, dimension)
            assert len(old) > 10, (viewer.email, f)  # the case counts something
            assert new == old, (viewer.email, f, grain, dimension)


@pytest.mark.parametrize("grain", GRAINS)
@pytest.mark.parametrize("dimension", list(DIMENSIONS))
def test_one_pass_answers_as_five_passes_on_known_rows(store, grain: str, dimension: str) -> None:
    seed_known_incidents(store)
    con = store.cursor()
    for viewer in (UK_ANALYST, AU_ANALYST):
        for f in FILTERS:
            old, new = _both(con, viewer, f, grain, dimension)
            assert new == old, (viewer.email, f, grain, dimension)
