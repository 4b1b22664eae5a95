"""The overview's statement with its markings and split by category in one pass (GROUPING SETS, issue 21) against
the statement it replaced, kept here verbatim as the reference answer: the same rows, value for value, for several
filters and viewers, on the demo store and on the hand-made rows of the explorer's tests."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from analytics.access.viewer import Viewer
from analytics.filters import Filters
from analytics.incidents import grids
from analytics.incidents import overview as incident_overview
from analytics.incidents.base import HIGH_SEVERITY, NO_MARKING, marking_of_groups
from analytics.incidents.overview import OVERVIEW_ANOMALY_MONTHS, SPARK_WEEKS
from analytics.periods import period_start, shift
from analytics.sources import PUBLIC_ORIGINATOR
from analytics.stats.anomalies import DEFAULT_RULE, AnomalyRule
from tests.analytics.incidents.test_incidents_explorer import seed_known_incidents
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST, UK_POLICY


def two_pass_query(
    viewer: Viewer, f: Filters, today: date, rule: AnomalyRule = DEFAULT_RULE, through: date | None = None
) -> tuple[str, dict[str, Any], date, date, date]:
    """overview_query before issue 21, verbatim: the markings and the split by category each re-read the rows."""
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
        "marks as materialized (select tlp, rel_uk, rel_au, source, count(*) filter (recent) as n_recent, "
        "count(*) filter (chosen) as n_chosen from base group by all) "
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
        f"union all select 'by_category', category, originator, null, count(*), 0, {zeros} from base "
        "where chosen group by all "
        f"union all select 'marking', 'recent', null, null, {marking_of_groups('marks', 'n_recent', pad=7)} "
        f"union all select 'marking', 'chosen', null, null, {marking_of_groups('marks', 'n_chosen', pad=7)}"
    )
    return sql, params, anomaly_from, spark_from, month0


FILTERS = [
    Filters(),
    Filters(preset="12m"),
    Filters(preset="90d", categories=("Jailbreak", "Prompt injection")),
    Filters(preset="custom", date_from=date(2025, 3, 1), date_to=date(2025, 9, 30)),
    Filters(originators=("AU",), severities=(4, 5)),
]


def _both(con: Any, viewer: Viewer, f: Filters, through: date | None) -> tuple[list[Any], list[Any]]:
    new_sql, params, *_ = incident_overview.overview_query(viewer, f, TODAY, through=through)
    old_sql, old_params, *_ = two_pass_query(viewer, f, TODAY, through=through)
    assert old_params == params
    old = con.execute(old_sql, params).fetchall()
    new = con.execute(new_sql, params).fetchall()
    return sorted(old, key=repr), sorted(new, key=repr)


@pytest.mark.parametrize("through", [None, TODAY - timedelta(days=12)])
def test_one_pass_overview_answers_as_before_on_the_demo_store(demo_store, through: date | None) -> None:
    con = demo_store.cursor()
    for viewer in (UK_ANALYST, AU_ANALYST, UK_POLICY):
        for f in FILTERS:
            old, new = _both(con, viewer, f, through)
            assert len([r for r in old if r[0] == "by_category"]) > 3, (viewer.email, f)
            assert new == old, (viewer.email, f)


def test_one_pass_overview_answers_as_before_on_known_rows(store) -> None:
    seed_known_incidents(store)
    con = store.cursor()
    for viewer in (UK_ANALYST, AU_ANALYST):
        for f in FILTERS:
            old, new = _both(con, viewer, f, None)
            assert new == old, (viewer.email, f)
