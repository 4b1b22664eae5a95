"""Everything the records say about one entity, as the viewer may see it: incidents, evaluation runs,
assessments, a timeline and the entities they share records with.

Why here and not in the features: an entity cuts across incidents, evaluations and assessments. Each read takes
the viewer and applies the markings in SQL (analytics.access.markings for records, analytics.links for successful
runs and the benchmark mapping, analytics.assessments.reads for assessment versions), and every result is a
`Scoped` carrying the marking of the rows behind it. An entity that exists only in records the viewer may not see
gives exactly the answer of one that does not exist (`overview` returns None).

The page shows every record the viewer may see, whatever the sidebar filters: an entity page answers "what do we
know about X", and a shared link must show the same to everyone with the same clearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from analytics.access.markings import (
    TLP_LEVELS,
    Marking,
    Scoped,
    combine_markings,
    highest_marking,
    marking_from_row,
    marking_select_sql,
    visible_sql,
)
from analytics.access.viewer import Viewer
from analytics.assessments.reads import readable_versions_sql
from analytics.entities.kinds import EntityRef, parse_entity
from analytics.links.queries import bench_key, bench_key_sql, mapping_predicate, runs_predicate, used_params

# Assessments are read too: cached results follow every write, not only record writes (session.generation_for).
READS_ONLY_RECORDS = False

LIST_LIMIT = 200  # rows listed per table; the marking's `rows` says how many match in all
RELATED_PER_KIND = 8

# Per kind, the predicate over `incidents i` and over `eval_runs r` (None: runs never name this kind). `$e_key` is
# EntityRef.key; `{map}` is the benchmark-mapping predicate; `{bk}` the normalised benchmark key of r.benchmark.
_INCIDENT_MATCH: dict[str, str] = {
    "model": "lower(trim(i.affected_system)) = $e_key",
    "developer": "lower(trim(i.developer)) = $e_key",
    # as stored, or in lower case (a lambda over every row's list is 5x slower at 1M incidents)
    "sector": "list_has_any(i.sectors, [$e_id, $e_key])",
    "actor": "lower(trim(i.actor_type)) = $e_key",
    "technique": (
        "i.incident_key in (select it.incident_key from incident_techniques it "
        "where it.technique_id = $e_key or left(it.technique_id, 9) = $e_key)"
    ),
    "benchmark": (
        # two IN lists, not a join on an OR (which DuckDB runs as a nested loop over every technique row)
        "i.incident_key in (select it.incident_key from incident_techniques it where it.technique_id in "
        "(select bt.technique_id from benchmark_techniques bt where bt.benchmark_key = $e_bkey and {map}) "
        "or left(it.technique_id, 9) in "
        "(select bt.technique_id from benchmark_techniques bt where bt.benchmark_key = $e_bkey and {map}))"
    ),
}
_RUN_MATCH: dict[str, str | None] = {
    "model": "lower(trim(r.model)) = $e_key",
    "developer": "lower(trim(r.model_developer)) = $e_key",
    "sector": None,
    "actor": None,
    "technique": (
        "{bk} in (select bt.benchmark_key from benchmark_techniques bt where {map} and "
        "(bt.technique_id = $e_key or bt.technique_id = left($e_key, 9) or left(bt.technique_id, 9) = $e_key))"
    ),
    "benchmark": "{bk} = $e_bkey",
}


def _ref(kind: str, ident: str) -> EntityRef:
    return parse_entity(kind, ident)


def _match_params(ref: EntityRef, viewer: Viewer) -> dict[str, Any]:
    _, mparams = mapping_predicate(viewer)
    return {**mparams, "e_key": ref.key, "e_id": ref.id, "e_bkey": bench_key(ref.id)}


def _incidents_where(viewer: Viewer, ref: EntityRef) -> tuple[str, dict[str, Any]]:
    """WHERE over `incidents i`: visible to the viewer and naming the entity."""
    vis, params = visible_sql(viewer, "incidents", "i")
    pred, _ = mapping_predicate(viewer)
    match = _INCIDENT_MATCH[ref.kind].format(map=pred)
    return f"{vis} and {match}", {**params, **_match_params(ref, viewer)}


def _runs_where(viewer: Viewer, ref: EntityRef) -> tuple[str, dict[str, Any]] | None:
    """WHERE over `eval_runs r`: successful runs visible to the viewer naming the entity (None: no run can)."""
    template = _RUN_MATCH[ref.kind]
    if template is None:
        return None
    runs, params = runs_predicate(viewer)
    pred, _ = mapping_predicate(viewer)
    match = template.format(map=pred, bk=bench_key_sql("r.benchmark"))
    return f"{runs} and {match}", {**params, **_match_params(ref, viewer)}


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    return con.execute(sql, used_params(sql, params)).df()


def _marking(con: duckdb.DuckDBPyConnection, table: str, where: str, params: dict[str, Any]) -> Marking:
    alias = "i" if table == "incidents" else "r"
    return highest_marking(con, f"{table} {alias}", where, used_params(where, params), alias=alias)


# -- the records -------------------------------------------------------------------------------------------------


def incidents(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, kind: str, ident: str, limit: int = LIST_LIMIT
) -> Scoped[pd.DataFrame]:
    """The entity's incidents the viewer may see, newest first (at most `limit`; `marking.rows` counts all):
    id, occurred_on, title, originator, category, severity, affected_system, developer, tlp. One scan: the
    matching rows are read once; the marking of all of them is one aggregate beside the rows listed (window
    aggregates over the whole set cost 570 of 725 ms CPU for a common technique at 1M incidents)."""
    ref = _ref(kind, ident)
    where, params = _incidents_where(viewer, ref)
    levels = ", ".join(f"'{t}'" for t in TLP_LEVELS)
    sql = (
        "with m as materialized (select i.id, i.occurred_on, i.title, i.originator, i.category, i.severity, "
        "i.affected_system, i.developer, i.tlp, i.releasable_to, i.source from incidents i "
        f"where {where}), "
        f"agg as (select max(list_position([{levels}], tlp)) as m_tlp, "
        "bool_and(list_contains(releasable_to, 'UK')) as m_uk, "
        "bool_and(list_contains(releasable_to, 'AU')) as m_au, count(*) as m_rows, "
        "list_sort(list(distinct source)) as m_sources from m), "
        "top as (select * exclude (releasable_to, source) from m order by occurred_on desc, id limit $e_limit) "
        "select top.*, agg.* from top cross join agg order by top.occurred_on desc, top.id"
    )
    df = _run(con, sql, {**params, "e_limit": int(limit)})
    if df.empty:
        return Scoped(df[_INCIDENT_COLUMNS], Marking(rows=0))
    first = df.iloc[0]
    marking = marking_from_row(
        first["m_tlp"], first["m_uk"], first["m_au"], first["m_rows"], list(first["m_sources"])
    )
    return Scoped(df[_INCIDENT_COLUMNS].reset_index(drop=True), marking)


_INCIDENT_COLUMNS = [
    "id",
    "occurred_on",
    "title",
    "originator",
    "category",
    "severity",
    "affected_system",
    "developer",
    "tlp",
]

_RUN_COLUMNS = [
    "run_id",
    "eval_date",
    "model",
    "model_developer",
    "benchmark",
    "metric",
    "score",
    "institute",
    "tlp",
]


def evaluations(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, kind: str, ident: str, limit: int = LIST_LIMIT
) -> Scoped[pd.DataFrame]:
    """The entity's successful evaluation runs the viewer may see, newest first: run_id, eval_date, model,
    model_developer, benchmark, metric, score, institute, tlp. A technique's are the runs of the benchmarks
    mapped to it; a sector or actor type has none (an empty result marked with no rows)."""
    ref = _ref(kind, ident)
    scoped = _runs_where(viewer, ref)
    if scoped is None:
        return Scoped(pd.DataFrame(columns=_RUN_COLUMNS), Marking(rows=0))
    where, params = scoped
    sql = (
        f"select {', '.join('r.' + c for c in _RUN_COLUMNS)} from eval_runs r where {where} "
        "order by r.eval_date desc nulls last, r.run_id limit $e_limit"
    )
    df = _run(con, sql, {**params, "e_limit": int(limit)})
    return Scoped(df, _marking(con, "eval_runs", where, params))


def assessments(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, kind: str, ident: str
) -> Scoped[pd.DataFrame]:
    """Assessments whose version this viewer reads cites one of the entity's incidents or runs: id, title,
    status, version, saved_at, tlp, releasable_to. The version is the one the viewer reads by default (current
    for authors, approved for everyone else), so a policymaker never meets a draft."""
    ref = _ref(kind, ident)
    readable, params = readable_versions_sql(viewer)
    inc_vis, inc_params = _incidents_where(viewer, ref)
    cites = f"(ev.kind = 'incident' and ev.ref_id in (select i.id from incidents i where {inc_vis}))"
    params = {**params, **inc_params}
    runs = _runs_where(viewer, ref)
    if runs is not None:
        cites += (
            f" or (ev.kind = 'eval_run' and ev.ref_id in (select r.run_id from eval_runs r where {runs[0]}))"
        )
        params.update(runs[1])
    sql = (
        "select a.id, v.title, a.status, v.version, v.saved_at, v.tlp, v.releasable_to "
        "from assessments a join assessment_versions v on v.assessment_id = a.id "
        f"where {readable} and exists (select 1 from assessment_evidence ev where ev.assessment_id = a.id "
        f"and ev.version = v.version and ({cites})) order by v.saved_at desc, a.id desc"
    )
    df = _run(con, sql, params)
    marking = combine_markings(
        Marking(t, tuple(r), 1) for t, r in zip(df["tlp"], df["releasable_to"], strict=True)
    )
    return Scoped(df, marking if len(df) else Marking(rows=0))


def timeline(con: duckdb.DuckDBPyConnection, viewer: Viewer, kind: str, ident: str) -> Scoped[pd.DataFrame]:
    """Records per month: month (first day), series ('Incidents' or 'Evaluation runs'), count. Incidents by the
    month they occurred, runs by their evaluation date. One scan per table: each month's marking aggregates come
    with its count and are combined here."""
    ref = _ref(kind, ident)
    where, params = _incidents_where(viewer, ref)
    parts = [
        "select date_trunc('month', i.occurred_on)::date as month, 'Incidents' as series, "
        f"{marking_select_sql('i')} from incidents i where {where} group by 1"
    ]
    runs = _runs_where(viewer, ref)
    if runs is not None:
        parts.append(
            "select date_trunc('month', r.eval_date)::date, 'Evaluation runs', "
            f"{marking_select_sql('r')} from eval_runs r where {runs[0]} and r.eval_date is not null group by 1"
        )
        params = {**params, **runs[1]}
    rows = _run(con, " union all ".join(parts) + " order by month, series", params)
    marking = combine_markings(
        marking_from_row(t, uk, au, n, list(src))
        for t, uk, au, n, src in zip(
            rows["m_tlp"], rows["m_uk"], rows["m_au"], rows["m_rows"], rows["m_sources"], strict=True
        )
    )
    df = rows[["month", "series"]].assign(count=rows["m_rows"].astype(int))
    return Scoped(df, marking if len(rows) else Marking(rows=0))


def related(con: duckdb.DuckDBPyConnection, viewer: Viewer, kind: str, ident: str) -> Scoped[pd.DataFrame]:
    """Entities that share records with this one, the most shared first (at most RELATED_PER_KIND per kind):
    kind, id, records, via ('incidents' or 'evaluation runs'). The entity itself is left out."""
    ref = _ref(kind, ident)
    where, params = _incidents_where(viewer, ref)
    return _named_in(con, where, params, _runs_where(viewer, ref), ref)


def most_recorded(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> Scoped[pd.DataFrame]:
    """The entities of each kind named by the most records the viewer may see (the entity page's index):
    kind, id, records, via, as `related` gives them."""
    where, params = visible_sql(viewer, "incidents", "i")
    return _named_in(con, where, params, runs_predicate(viewer), None)


def _named_in(
    con: duckdb.DuckDBPyConnection,
    where: str,
    params: dict[str, Any],
    runs: tuple[str, dict[str, Any]] | None,
    leave_out: EntityRef | None,
) -> Scoped[pd.DataFrame]:
    """The entities the incidents `where` selects (and the runs `runs` selects) name, with how many records."""
    parts = [
        f"""
        with m as (select i.incident_key as k, i.affected_system, i.developer, i.actor_type, i.sectors
                   from incidents i where {where})
        select 'technique' as kind, it.technique_id as id, count(distinct m.k) as records, 'incidents' as via
          from m join incident_techniques it on it.incident_key = m.k group by 2
        union all select 'model', min(trim(affected_system)), count(*), 'incidents' from m
          where trim(affected_system) <> '' group by lower(trim(affected_system))
        union all select 'developer', min(trim(developer)), count(*), 'incidents' from m
          where trim(developer) <> '' group by lower(trim(developer))
        union all select 'actor', min(trim(actor_type)), count(*), 'incidents' from m
          where trim(actor_type) <> '' group by lower(trim(actor_type))
        union all select 'sector', min(trim(s)), count(*), 'incidents' from (select unnest(sectors) as s from m)
          where trim(s) <> '' group by lower(trim(s))
        """
    ]
    markings = [_marking(con, "incidents", where, params)]
    if runs is not None:
        parts.append(
            f"""
            select 'model', min(trim(r.model)), count(*), 'evaluation runs' from eval_runs r
              where {runs[0]} group by lower(trim(r.model))
            union all select 'developer', min(trim(r.model_developer)), count(*), 'evaluation runs'
              from eval_runs r where {runs[0]} and trim(r.model_developer) <> ''
              group by lower(trim(r.model_developer))
            union all select 'benchmark', min(r.benchmark), count(*), 'evaluation runs' from eval_runs r
              where {runs[0]} group by {bench_key_sql("r.benchmark")}
            """
        )
        params = {**params, **runs[1]}
        markings.append(_marking(con, "eval_runs", runs[0], runs[1]))
    sql = (
        f"select kind, id, records, via from ({' union all '.join(parts)}) "
        "where not (kind = $e_kind and (lower(id) = lower($e_id) or id = $e_id)) "
        "qualify row_number() over (partition by kind, via order by records desc, id) <= $e_per "
        "order by kind, via, records desc, id"
    )
    own = {"e_kind": leave_out.kind, "e_id": leave_out.id} if leave_out else {"e_kind": "", "e_id": ""}
    df = _run(con, sql, {**params, **own, "e_per": RELATED_PER_KIND})
    shown = [m for m in markings if m.rows]
    return Scoped(df, combine_markings(shown) if shown else Marking(rows=0))


# -- the entity itself --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityOverview:
    kind: str
    id: str
    name: str  # the entity's name as the records (or ATLAS) spell it
    incidents: int
    runs: int
    first_seen: date | None
    last_seen: date | None
    marking: Marking  # of every record behind the counts (incidents and runs)
    in_taxonomy: bool  # an ATLAS technique the store's taxonomy defines (public reference data)


# Which stored spelling names the entity, per kind: (incident column, run column).
_NAME_COLUMNS: dict[str, tuple[str | None, str | None]] = {
    "model": ("i.affected_system", "r.model"),
    "developer": ("i.developer", "r.model_developer"),
    "actor": ("i.actor_type", None),
    "benchmark": (None, "r.benchmark"),
}


def overview(con: duckdb.DuckDBPyConnection, viewer: Viewer, kind: str, ident: str) -> EntityOverview | None:
    """What the page's heading says: the entity's name, how many of its records the viewer may see and when.
    None when the viewer may see nothing about it (whether it exists elsewhere or not), except for an ATLAS
    technique or a benchmark mapping the viewer may see, which are public or their own reference data."""
    ref = _ref(kind, ident)
    where, params = _incidents_where(viewer, ref)
    # One scan per table: the dates and the marking aggregates (whose m_rows is the count) together.
    sql = f"select min(i.occurred_on), max(i.occurred_on), {marking_select_sql('i')} from incidents i where {where}"
    inc = con.execute(sql, used_params(sql, params)).fetchone()
    assert inc is not None
    first, last, n_inc = inc[0], inc[1], int(inc[5])
    markings = [marking_from_row(*inc[2:])] if n_inc else []
    n_runs = 0
    runs = _runs_where(viewer, ref)
    if runs is not None:
        sql = f"select min(r.eval_date), max(r.eval_date), {marking_select_sql('r')} from eval_runs r where {runs[0]}"
        row = con.execute(sql, used_params(sql, runs[1])).fetchone()
        assert row is not None
        n_runs = int(row[5])
        if n_runs:
            markings.append(marking_from_row(*row[2:]))
            first = min(d for d in (first, row[0]) if d is not None) if (first or row[0]) else None
            last = max(d for d in (last, row[1]) if d is not None) if (last or row[1]) else None
    names = technique_full_names(con) if ref.kind == "technique" else {}
    in_taxonomy = ref.id in names
    if not n_inc and not n_runs and not in_taxonomy and not _mapped_benchmark(con, viewer, ref):
        return None
    return EntityOverview(
        kind=ref.kind,
        id=ref.id,
        name=names.get(ref.id) or _stored_name(con, viewer, ref) or ref.id,
        incidents=n_inc,
        runs=n_runs,
        first_seen=first,
        last_seen=last,
        marking=combine_markings(markings) if markings else Marking(rows=0),
        in_taxonomy=in_taxonomy,
    )


def _mapped_benchmark(con: duckdb.DuckDBPyConnection, viewer: Viewer, ref: EntityRef) -> bool:
    """A benchmark the viewer may see in the benchmark -> technique mapping (defaults are public)."""
    if ref.kind != "benchmark":
        return False
    pred, params = mapping_predicate(viewer)
    sql = f"select count(*) from benchmark_techniques bt where bt.benchmark_key = $e_bkey and {pred}"
    row = con.execute(sql, used_params(sql, {**params, "e_bkey": bench_key(ref.id)})).fetchone()
    return bool(row and row[0])


def _stored_name(con: duckdb.DuckDBPyConnection, viewer: Viewer, ref: EntityRef) -> str | None:
    """The most common spelling of the entity among the records the viewer may see."""
    inc_col, run_col = _NAME_COLUMNS.get(ref.kind, (None, None))
    for table, col, scoped in (
        ("incidents i", inc_col, _incidents_where(viewer, ref)),
        ("eval_runs r", run_col, _runs_where(viewer, ref)),
    ):
        if col is None or scoped is None:
            continue
        sql = f"select {col}, count(*) as n from {table} where {scoped[0]} group by 1 order by n desc, 1 limit 1"
        row = con.execute(sql, used_params(sql, scoped[1])).fetchone()
        if row and row[0]:
            return str(row[0])
    return None


def technique_full_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every ATLAS id the store knows (retired ones too) -> its full name: a sub-technique is named with its
    parent, "LLM Prompt Injection: Indirect", never a bare "Indirect". Public reference data: no viewer."""
    rows = con.execute(
        "select t.id, case when p.name is not null then p.name || ': ' || t.name else t.name end "
        "from atlas_techniques t left join atlas_techniques p "
        "on p.id = coalesce(t.parent_id, case when length(t.id) > 9 then left(t.id, 9) end) and p.id <> t.id"
    ).fetchall()
    return {str(i): str(n) for i, n in rows}
