"""Viewer-scoped incident reads both the explorer and the overview stand on, and the pieces their summary
queries share.

Why a module of its own: the sidebar's filter options, the store totals and the per-institute split by category
are asked by several pages (the sidebar on every page, briefings, the benchmark), not by one; and the explorer's
and overview's one-statement summaries (`incidents.explorer`, `incidents.overview`) fold their answers with the
same marking columns and count conventions. Each function takes a cursor, the viewer and the filters; markings
and filters become one WHERE clause with bound parameters (`Filters.sql_where`), and each result carries the
marking of the rows behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeVar

import duckdb
import pandas as pd

from analytics import vocab
from analytics.access.markings import (
    Marking,
    Scoped,
    highest_marking,
    marking_from_row,
    marking_select_sql,
)
from analytics.access.viewer import Viewer
from analytics.filters import INSTITUTE_REPORTING, Filters, controlled_value, source_sql
from analytics.sources import PUBLIC_ORIGINATOR, PUBLIC_SOURCES

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True

HIGH_SEVERITY = 4  # "high" and "critical" on the 1-5 scale (vocab.SEVERITY_LABELS)

# The marking columns every branch of a summary query carries (null where a branch has nothing to say).
NO_MARKING = (
    "null::integer as m_tlp, null::boolean as m_uk, null::boolean as m_au, null::bigint as m_rows, "
    "null::varchar[] as m_sources"
)


def marking_of_groups(source: str, count: str, pad: int = 4) -> str:
    """Marking columns over a small grouped relation with boolean `rel_uk`/`rel_au`, `tlp`, `source` and a
    row count column: releasability is rebuilt as a list so markings.marking_select_sql applies unchanged.
    The row count comes first, then `pad` nulls, so the branch lines up with the counts of the others."""
    return (
        f"sum(i.{count})::bigint, {'null, ' * pad}{marking_select_sql('i')} "
        f"from (select g.tlp, g.source, g.{count}, "
        "list_filter(['AU', 'UK'], lambda x: (x = 'AU' and g.rel_au) or (x = 'UK' and g.rel_uk)) "
        f"as releasable_to from {source} g where g.{count} > 0) i"
    )


def as_count(v: Any) -> int:
    """A count from SQL: null (a branch with nothing to say) counts as zero."""
    return 0 if v is None else int(v)


def summed_marking(rows: Any, m_tlp: Any, m_uk: Any, m_au: Any, m_sources: Any) -> Marking:
    """The marking a `marking_of_groups` branch returned; no rows behind it is the empty marking."""
    if not as_count(rows):
        return Marking()
    return marking_from_row(m_tlp, m_uk, m_au, as_count(rows), list(m_sources or []))


class _Part(Protocol):
    @property
    def part(self) -> str: ...


P = TypeVar("P", bound=_Part)


def by_part(rows: Iterable[P]) -> dict[str, list[P]]:
    """The rows of a UNION ALL summary, grouped by the branch (`part`) that produced them, in order."""
    parts: dict[str, list[P]] = {}
    for row in rows:
        parts.setdefault(row.part, []).append(row)
    return parts


# Filterable dimensions: option name -> SQL expression over `incidents i` yielding one value per row.
# List columns are unnested so each sector or country counts once per incident.
OPTION_COLUMNS: dict[str, str] = {
    "originators": "i.originator",
    "sources": source_sql("i"),  # institute reporting, or the public source's key
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
        f"union all select 'marking', null, null, {marking_of_groups('g', 'n', pad=0)}",
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


# Values with an order of their own are offered in it (severity 5 -> 1 as the severity chart draws it, TLP from
# CLEAR up, status along the workflow); the rest most frequent first, as the AI Incident Database's Discover does.
_NATURAL_ORDER: dict[str, tuple[Any, ...]] = {
    "severities": tuple(sorted(vocab.SEVERITY_LABELS, reverse=True)),
    "tlps": ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"),
    "statuses": vocab.STATUSES,
    "originators": ("UK", "AU", PUBLIC_ORIGINATOR),
    "sources": (INSTITUTE_REPORTING, *(s.key for s in PUBLIC_SOURCES)),
}


def _in_order(name: str, rows: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
    natural = _NATURAL_ORDER.get(name)
    if natural is None:
        return rows  # already most first, ties by value (the SQL's order)
    rank = {v: k for k, v in enumerate(natural)}
    return sorted(rows, key=lambda r: (rank.get(r[0], len(rank)), str(r[0])))


def filter_options(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, today: date, f: Filters | None = None
) -> dict[str, list[tuple[Any, int]]]:
    """Values each filter can take and how many visible incidents have them, computed only over visible rows.

    Faceted, as the AI Incident Database's Discover is: each filter's counts are taken under every OTHER filter
    in `f` (with Jailbreak chosen, Sector counts only jailbreaks) but not its own, so a chosen filter still
    offers its alternatives. Values with no matching row are left out; the sidebar keeps the ones a person has
    chosen (ui.filter_sidebar). Counted from `facet_rollup` (one statement; every branch carries the markings,
    `Filters.sql_where`), which the sidebar caches on its own so that choosing categories or severities costs no
    statement. People who may not read records are offered vocabulary values only (`filters.controlled_value`).
    """
    f = f or Filters()
    return facet_counts(facet_rollup(con, viewer, today, rollup_filters(f)), viewer, f)


# The filters the facet counts are split by (`facet_rollup`): single-valued columns, so counts of incidents with
# different values add up. Category and severity are what analysts narrow by most; each split multiplies the
# rollup's rows (about 110 facet values x 12 categories x 5 severities at 1M incidents: under 7,000 rows).
ROLLED_UP: tuple[str, ...] = ("categories", "severities")


def rollup_filters(f: Filters) -> Filters:
    """`f` without the filters the rollup is split by: the key one cached rollup answers every choice of them
    under."""
    for name in ROLLED_UP:
        f = f.without(name)
    return f


@dataclass(frozen=True)
class FacetRollup:
    """Each facet's counts under every filter but category and severity, split by the incidents' category and
    severity: rows of (facet, category, severity, value, incidents). An incident has one category and one
    severity, so the counts under any choice of them are sums of these rows (`facet_counts`)."""

    rows: tuple[tuple[str, str | None, int | None, str, int], ...]


def facet_rollup(con: duckdb.DuckDBPyConnection, viewer: Viewer, today: date, f: Filters) -> FacetRollup:
    """The facet counts under `f`, split by category and severity (`facet_query`).

    Why split: analysts narrow by category and severity more than by anything else, and each change of them
    asked the store server for every facet again (0.40-0.42 s of its CPU per category change at 1M incidents,
    two thirds of the change; issue 21). Asked under `rollup_filters(f)` (`filter_options` and the sidebar
    do), one cached rollup answers every choice of categories and severities under the same other filters; it
    costs the store server about 1.5 times one facet statement, once per audience and data version."""
    sql, params = facet_query(viewer, today, f)
    rows = con.execute(sql, params).fetchall()
    return FacetRollup(
        tuple(
            (str(facet), cat, None if sev is None else int(sev), str(v), int(n))
            for facet, cat, sev, v, n in rows
        )
    )


def facet_counts(rollup: FacetRollup, viewer: Viewer, f: Filters) -> dict[str, list[tuple[Any, int]]]:
    """`filter_options` under `f` from a rollup asked under `f` with or without its categories and severities:
    each facet takes the rows of the chosen categories and severities (all, where none is chosen), except that
    a facet is never narrowed by its own filter (the category facet takes every category's rows)."""
    shown = f.for_viewer(viewer)
    categories, severities = frozenset(shown.categories), frozenset(int(s) for s in shown.severities)
    summed: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    for facet, category, severity, v, n in rollup.rows:
        if categories and facet != "categories" and category not in categories:
            continue
        if severities and facet != "severities" and severity not in severities:
            continue
        summed[facet][v] = summed[facet].get(v, 0) + n
    out: dict[str, list[tuple[Any, int]]] = {}
    for name, counts in summed.items():
        # Most first, ties by value as text: the statement's own order before the split.
        rows = sorted(counts.items(), key=lambda r: (-r[1], r[0]))
        out[name] = _in_order(name, [(int(v) if name == "severities" else v, n) for v, n in rows])
    if not viewer.can_see_records:  # only vocabulary values are offered to (and applied for) them
        out = {k: [(v, n) for v, n in rows if controlled_value(k, v)] for k, rows in out.items()}
    return out


# Every facet the sidebar counts: the option columns, then the ATLAS techniques (incident_techniques) and tactics
# (incident_tactics, kept at write time; a sub-technique counts under its own and its parent's tactics).
FACETS: tuple[str, ...] = (*OPTION_COLUMNS, "techniques", "tactics")
_LIST_COLUMNS = {"sectors", "countries"}  # unnested: each sector or country counts once per incident


def facet_query(viewer: Viewer, today: date, f: Filters) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters behind `facet_rollup`: rows (facet, category, severity, value, incidents).

    Why this shape: a facet is counted under every filter but its own, so facets whose own filter is not set
    share one WHERE clause, the full one. The facets are grouped by their WHERE clause and each group's
    matching rows are read once (`r0` holds the usual case, every unchosen facet), then counted per facet,
    category and severity with GROUPING SETS; technique hits join on the integer incident key. At 1M incidents
    this reads the table once or twice instead of eleven times (docs/benchmarks.md, "Sidebar facet counts")."""
    params: dict[str, Any] = {}
    groups: dict[str, list[str]] = {}
    for name in FACETS:
        where, p = f.without(name).sql_where(viewer, today)
        params.update(p)  # one name always carries the same value: it comes from the same `f`
        groups.setdefault(where, []).append(name)
    by = ", ".join(f"by_{n}" for n in ROLLED_UP)  # the split, in every grouping
    ctes: list[str] = []
    branches: list[str] = []
    for k, (where, names) in enumerate(groups.items()):
        cols = ["i.incident_key", *(f"{OPTION_COLUMNS[n]} as by_{n}" for n in ROLLED_UP)] + [
            f"{OPTION_COLUMNS[n].removeprefix('unnest(').removesuffix(')')} as {n}"
            if n in _LIST_COLUMNS
            else f"{OPTION_COLUMNS[n]} as {n}"
            for n in names
            if n in OPTION_COLUMNS
        ]
        ctes.append(f"r{k} as materialized (select {', '.join(cols)} from incidents i where {where})")
        scalar = [n for n in names if n in OPTION_COLUMNS and n not in _LIST_COLUMNS]
        if scalar:
            facet = " ".join(f"when grouping({n}) = 0 then '{n}'" for n in scalar)
            value = " ".join(f"when grouping({n}) = 0 then {n}::varchar" for n in scalar)
            sets = ", ".join(f"({by}, {n})" for n in scalar)
            branches.append(
                f"select case {facet} end, {by}, case {value} end, count(*) from r{k} "
                f"group by grouping sets ({sets})"
            )
        branches += [f"select '{n}', {by}, v, count(*) from "
                     f"(select {by}, unnest({n}) as v from r{k}) group by all"
                     for n in names if n in _LIST_COLUMNS]  # fmt: skip
        # One row per incident in r{k} (incident_key is unique: each incident takes the next value of its
        # sequence, migration 016), so the joins below count each technique (tactic) hit once.
        if "techniques" in names:
            branches.append(
                f"select 'techniques', {by}, it.technique_id, count(*) from incident_techniques it "
                f"join r{k} on r{k}.incident_key = it.incident_key group by all"
            )
        if "tactics" in names:
            # One row per (incident, tactic), kept at write time (analytics/store/incident_keys.py): counted
            # directly, where deriving it from the technique rows took a distinct count per tactic.
            branches.append(
                f"select 'tactics', {by}, t.tactic_id, count(*) from incident_tactics t "
                f"join r{k} on r{k}.incident_key = t.incident_key group by all"
            )
    sql = (
        f"with {', '.join(ctes)} select * from ({' union all '.join(branches)}) "
        f"c(facet, {by}, v, n) "
        "where v is not null"
    )
    return sql, params


def store_totals(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[dict[str, int]]:
    """Visible incidents, and how many per originator (public sources' records are PUBLIC, never UK or AU),
    with the marking of all of them."""
    where, params = f.sql_where(viewer, today)
    row = con.execute(
        f"select count(*) filter (i.originator = 'UK'), count(*) filter (i.originator = 'AU'), "
        f"count(*) filter (i.originator = 'PUBLIC'), {marking_select_sql('i')} from incidents i where {where}",
        params,
    ).fetchone()
    assert row is not None
    uk, au, public, *m = row
    counts = {"UK": int(uk), "AU": int(au), "PUBLIC": int(public)}
    return Scoped({**counts, "total": sum(counts.values())}, marking_from_row(*m))
