"""The incident <-> evaluation link: which evaluations speak to an incident, which incidents to a benchmark or
a technique.

Two bridges connect the record types:

- the affected model: an incident's `affected_system` names a model that has evaluation runs (matched case- and
  space-insensitively);
- ATLAS techniques: `benchmark_techniques` maps benchmarks (or Inspect tasks) to the techniques they exercise.
  A mapping to a technique covers its sub-techniques (a prompt-injection suite speaks to direct and indirect
  injection); a mapping to a sub-technique covers only that sub-technique.

The mapping ships with defaults (migration 004) and is edited by analysts here; every edit is kept in
`benchmark_technique_history` and the audit log (which names the edit by its history row id and the benchmark
by an opaque digest, never by name or rationale: benchmark names of marked runs are record content). Benchmark names are matched on a normalised key (BENCH_KEY_SQL)
so 'StrongREJECT', 'strong_reject' and 'inspect_evals/strong_reject' meet.

Every read takes the viewer: incidents and runs pass through analytics.access.markings, and a mapping row is shown only
when it is a shipped default, was added by the viewer's institute, or names a benchmark with a run the viewer
may see (a benchmark name can itself be sensitive). Results carry the marking of the rows behind them.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, NamedTuple

import duckdb
import pandas as pd

from analytics.access.markings import (
    Marking,
    Scoped,
    combine_markings,
    highest_marking,
    marking_from_row,
    marking_select_sql,
    visible_sql,
)
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.filters import Filters
from analytics.store import audit

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True


MAX_BENCHMARK_NAME = 200


def bench_key_sql(column: str) -> str:
    """SQL for the normalised key of a benchmark-name column. `column` comes only from the fixed set below."""
    if column not in _KEY_COLUMNS:
        raise ValueError(f"column {column!r} not allowed")
    return f"regexp_replace(lower(regexp_replace({column}, '^.*/', '')), '[^a-z0-9]+', '', 'g')"


_KEY_COLUMNS = frozenset({"r.benchmark", "benchmark", "$benchmark"})


def bench_key(name: str) -> str:
    """The same normalisation in Python: text after the last '/', lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]+", "", re.sub(r"^.*/", "", name).lower())


def _rename(sql: str, params: dict[str, Any], prefix: str) -> tuple[str, dict[str, Any]]:
    """Give a predicate's named parameters a prefix so two predicates can share one statement."""
    out = sql
    for k in sorted(params, key=len, reverse=True):
        out = out.replace(f"${k}", f"${prefix}{k}")
    return out, {f"{prefix}{k}": v for k, v in params.items()}


def used_params(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a statement refers to: DuckDB refuses named parameters a statement does not use."""
    return {k: v for k, v in params.items() if re.search(rf"\${re.escape(k)}\b", sql)}


def runs_predicate(viewer: Viewer) -> tuple[str, dict[str, Any]]:
    """WHERE text over `eval_runs r`: successful runs this viewer may see (parameters prefixed `r_`)."""
    vis, params = visible_sql(viewer, "eval_runs", "r")
    return _rename(f"{vis} and r.status = 'success'", params, "r_")


def mapping_predicate(viewer: Viewer) -> tuple[str, dict[str, Any]]:
    """WHERE text over `benchmark_techniques bt`: the mapping rows this viewer may see."""
    runs, params = runs_predicate(viewer)
    sql = (
        "(bt.scope = 'ALL' or bt.scope = $m_inst or bt.benchmark_key in "
        f"(select {bench_key_sql('r.benchmark')} from eval_runs r where {runs}))"
    )
    return sql, {**params, "m_inst": viewer.institute}


# -- the mapping ------------------------------------------------------------------------------------------------


def benchmark_mapping(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> pd.DataFrame:
    """The benchmark -> technique mapping this viewer may see, with how many of its runs they may see."""
    pred, params = mapping_predicate(viewer)
    runs, rparams = runs_predicate(viewer)
    return con.execute(
        f"""
        with runs as (
            select {bench_key_sql("r.benchmark")} as k, count(*) as n from eval_runs r where {runs} group by 1
        )
        select bt.benchmark, bt.technique_id, t.name as technique, bt.rationale, bt.origin, bt.added_by,
               bt.added_at, coalesce(runs.n, 0) as visible_runs
        from benchmark_techniques bt
        left join atlas_techniques t on t.id = bt.technique_id
        left join runs on runs.k = bt.benchmark_key
        where {pred}
        order by lower(bt.benchmark), bt.technique_id
        """,
        {**params, **rparams},
    ).df()


def known_benchmarks(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> list[str]:
    """Benchmark names with a run this viewer may see, for the mapping editor's choices."""
    runs, params = runs_predicate(viewer)
    rows = con.execute(
        f"select distinct r.benchmark from eval_runs r where {runs} order by lower(r.benchmark)", params
    ).fetchall()
    return [str(r[0]) for r in rows]


def add_mapping(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, benchmark: str, technique_id: str, rationale: str = ""
) -> None:
    """Map a benchmark to a technique (analysts, leads, admins). Stored, kept in the history, audited."""
    # benchmark names of marked runs are record content: the log holds an opaque id (see analytics.store.audit)
    audit.require(
        con, viewer, *RECORD_READERS, action="map benchmark", obj=f"benchmark:{bench_key(benchmark)}"
    )
    name = benchmark.strip()
    key = bench_key(name)
    if not name or not key:
        raise ValueError("name the benchmark (letters or digits)")
    if len(name) > MAX_BENCHMARK_NAME:
        raise ValueError(f"a benchmark name has at most {MAX_BENCHMARK_NAME} characters")
    row = con.execute(
        "select name from atlas_techniques where id = ? and removed_in is null", [technique_id]
    ).fetchone()
    if row is None:
        raise ValueError(f"{technique_id} is not a current ATLAS technique")
    pred, params = mapping_predicate(viewer)
    exists = con.execute(
        f"select count(*) from benchmark_techniques bt where bt.benchmark_key = $key and bt.technique_id = $tid "
        f"and {pred}",
        {**params, "key": key, "tid": technique_id},
    ).fetchone()
    if exists and exists[0]:
        raise ValueError(f"{name} is already mapped to {technique_id}")
    why = rationale.strip()[:500] or None
    con.execute(
        "insert into benchmark_techniques (benchmark_key, benchmark, technique_id, rationale, origin, added_by, "
        "scope) values (?, ?, ?, ?, 'analyst', ?, ?)",
        [key, name, technique_id, why, viewer.email, viewer.institute],
    )
    edit = con.execute(
        "insert into benchmark_technique_history (email, institute, action, benchmark, technique_id, rationale) "
        "values (?, ?, 'add', ?, ?, ?) returning id",
        [viewer.email, viewer.institute, name, technique_id, why],
    ).fetchone()
    assert edit is not None
    audit.record(
        con,
        viewer.email,
        "map benchmark",
        f"benchmark:{key}",
        {"technique": technique_id, "mapping_edit": int(edit[0]), "note_set": why is not None},
    )


def remove_mapping(con: duckdb.DuckDBPyConnection, viewer: Viewer, benchmark: str, technique_id: str) -> None:
    """Remove a mapping row the viewer can see; one they cannot see is reported as not existing."""
    audit.require(
        con, viewer, *RECORD_READERS, action="unmap benchmark", obj=f"benchmark:{bench_key(benchmark)}"
    )
    key = bench_key(benchmark.strip())
    pred, params = mapping_predicate(viewer)
    where = f"bt.benchmark_key = $key and bt.technique_id = $tid and {pred}"
    params = {**params, "key": key, "tid": technique_id}
    row = con.execute(
        f"select any_value(bt.benchmark), any_value(bt.rationale) from benchmark_techniques bt where {where} "
        "having count(*) > 0",
        params,
    ).fetchone()
    if row is None:
        raise ValueError(f"no mapping of {benchmark.strip()} to {technique_id}")
    # every row of this pairing the viewer can see goes (an institute's own and, if visible, the default)
    con.execute(f"delete from benchmark_techniques as bt where {where}", params)
    edit = con.execute(
        "insert into benchmark_technique_history (email, institute, action, benchmark, technique_id, rationale) "
        "values (?, ?, 'remove', ?, ?, ?) returning id",
        [viewer.email, viewer.institute, row[0], technique_id, row[1]],
    ).fetchone()
    assert edit is not None
    audit.record(
        con,
        viewer.email,
        "unmap benchmark",
        f"benchmark:{key}",
        {"technique": technique_id, "mapping_edit": int(edit[0])},
    )


def mapping_history(con: duckdb.DuckDBPyConnection, viewer: Viewer, limit: int = 200) -> pd.DataFrame:
    """Edits to the mapping, newest first, limited to benchmarks whose mapping the viewer could see."""
    runs, params = runs_predicate(viewer)
    key = bench_key_sql("benchmark")
    return con.execute(
        f"""
        select "at", email, action, benchmark, technique_id, rationale from benchmark_technique_history
        where institute = $m_inst or {key} in (select benchmark_key from benchmark_techniques where scope = 'ALL')
           or {key} in (select {bench_key_sql("r.benchmark")} from eval_runs r where {runs})
        order by id desc limit $lim
        """,
        {**params, "m_inst": viewer.institute, "lim": int(limit)},
    ).df()


# -- technique -> evaluations -------------------------------------------------------------------------------


def _runs_marking(con: duckdb.DuckDBPyConnection, where: str, params: dict[str, Any]) -> Marking:
    sql = f"select {marking_select_sql('r')} from eval_runs r where {where}"
    row = con.execute(sql, used_params(sql, params)).fetchone()
    assert row is not None
    return marking_from_row(*row) if row[3] else Marking(rows=0)


def evaluations_for_technique(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, technique_id: str
) -> Scoped[pd.DataFrame]:
    """Benchmarks mapped to a technique (its parent's, or for a parent its sub-techniques' too), each with its
    latest visible result: benchmark, mapped_to, runs, latest_model, latest_score, latest_date, latest_institute,
    best_score, trend (scores of its runs by evaluation date). Mapped benchmarks without results have runs = 0."""
    pred, mparams = mapping_predicate(viewer)
    runs, rparams = runs_predicate(viewer)
    params = {**mparams, **rparams, "tid": technique_id}
    mapped = (
        f"select bt.benchmark_key, any_value(bt.benchmark) as benchmark, "
        f"list(distinct bt.technique_id order by bt.technique_id) as mapped_to from benchmark_techniques bt "
        f"where {pred} and (bt.technique_id = $tid or bt.technique_id = left($tid, 9) "
        f"or left(bt.technique_id, 9) = $tid) group by 1"
    )
    df = con.execute(
        f"""
        with mapped as ({mapped}),
        runs as (
            select {bench_key_sql("r.benchmark")} as k, r.model, r.score, r.eval_date, r.institute, r.run_id
            from eval_runs r where {runs} and r.score is not null
        )
        select m.benchmark, m.mapped_to, count(r.run_id) as runs,
               arg_max(r.model, (r.eval_date, r.run_id)) as latest_model,
               arg_max(r.score, (r.eval_date, r.run_id)) as latest_score,
               max(r.eval_date) as latest_date,
               arg_max(r.institute, (r.eval_date, r.run_id)) as latest_institute,
               max(r.score) as best_score,
               coalesce(list(r.score order by r.eval_date, r.run_id) filter (r.run_id is not null), []) as trend
        from mapped m left join runs r on r.k = m.benchmark_key
        group by m.benchmark, m.mapped_to
        order by runs = 0, lower(m.benchmark)
        """,
        params,
    ).df()
    marking = _runs_marking(
        con,
        f"{runs} and {bench_key_sql('r.benchmark')} in (select benchmark_key from ({mapped}))",
        params,
    )
    return Scoped(df, marking)


# -- incident -> evaluations ---------------------------------------------------------------------------------


# The columns of evaluations_for_incident, in order (also the empty result's).
_INCIDENT_EVIDENCE_COLUMNS = [
    "link",
    "via",
    "benchmark",
    "model",
    "runs",
    "latest_score",
    "latest_date",
    "latest_institute",
    "best_score",
    "trend",
]

# The incident's techniques; a mapping to a technique covers its sub-techniques (left(tid, 9) is the parent).
_INCIDENT_TECHNIQUES_SQL = (
    "select it.technique_id as tid from incident_techniques it where it.incident_id = $iid"
)


class _LinkedIncident(NamedTuple):
    affected_system: str | None
    m_tlp: int
    m_uk: bool
    m_au: bool
    m_rows: int
    m_sources: list[str] | None

    def marking(self) -> Marking:
        return marking_from_row(self.m_tlp, self.m_uk, self.m_au, self.m_rows, self.m_sources)


def evaluations_for_incident(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, incident_id: str
) -> Scoped[pd.DataFrame]:
    """Evaluations that speak to one incident: of its affected model (link = 'model') and of benchmarks mapped
    to its techniques (link = 'technique'). Columns: link, via, benchmark, model, runs, latest_score,
    latest_date, latest_institute, best_score, trend (scores by evaluation date). Only benchmarks with visible
    results are listed. An incident the viewer may not see gives the same empty result as one that does not
    exist."""
    incident = _linked_incident(con, viewer, incident_id)
    if incident is None:
        return Scoped(pd.DataFrame(columns=_INCIDENT_EVIDENCE_COLUMNS), Marking(rows=0))
    incident_marking = incident.marking()
    runs, rparams = runs_predicate(viewer)
    pred, mparams = mapping_predicate(viewer)
    model = (incident.affected_system or "").strip().lower()
    params = {**rparams, **mparams, "iid": incident_id, "model": model}
    df = con.execute(_incident_evidence_sql(runs, pred), params).df()
    run_marking = _runs_marking(
        con,
        f"{runs} and (($model <> '' and lower(trim(r.model)) = $model) or {bench_key_sql('r.benchmark')} in "
        f"(select bt.benchmark_key from benchmark_techniques bt join ({_INCIDENT_TECHNIQUES_SQL}) t "
        f"on bt.technique_id = t.tid or bt.technique_id = left(t.tid, 9) where {pred}))",
        params,
    )
    marking = combine_markings([incident_marking, run_marking]) if run_marking.rows else incident_marking
    return Scoped(df[_INCIDENT_EVIDENCE_COLUMNS], marking)


def _linked_incident(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, incident_id: str
) -> _LinkedIncident | None:
    """The incident's affected system and marking, or None when it does not exist or the viewer may not see it."""
    vis, iparams = visible_sql(viewer, "incidents", "i")
    row = con.execute(
        f"select i.affected_system, {marking_select_sql('i')} from incidents i where i.id = $iid and {vis} "
        "group by i.affected_system",
        {**iparams, "iid": incident_id},
    ).fetchone()
    return None if row is None else _LinkedIncident(*row)


def _incident_evidence_sql(runs: str, pred: str) -> str:
    """One row per benchmark with visible results: of the affected model ($model) and of the benchmarks mapped to
    the incident's techniques ($iid). `runs` and `pred` are runs_predicate's and mapping_predicate's WHERE text."""
    return f"""
        with runs as (
            select {bench_key_sql("r.benchmark")} as k, r.benchmark, r.model, r.score, r.eval_date,
                   r.institute, r.run_id
            from eval_runs r where {runs} and r.score is not null
        ),
        by_model as (
            select 'model' as link, any_value(model) as via, any_value(benchmark) as benchmark,
                   any_value(model) as model, count(*) as runs,
                   arg_max(score, (eval_date, run_id)) as latest_score, max(eval_date) as latest_date,
                   arg_max(institute, (eval_date, run_id)) as latest_institute, max(score) as best_score,
                   list(score order by eval_date, run_id) as trend
            from runs where $model <> '' and lower(trim(model)) = $model
            group by k
        ),
        mapped as (
            select t.tid, bt.benchmark_key, any_value(bt.benchmark) as benchmark
            from ({_INCIDENT_TECHNIQUES_SQL}) t join benchmark_techniques bt
              on bt.technique_id = t.tid or bt.technique_id = left(t.tid, 9)
            where {pred}
            group by all
        ),
        by_technique as (
            select 'technique' as link, string_agg(distinct m.tid, ', ' order by m.tid) as via,
                   any_value(m.benchmark) as benchmark,
                   arg_max(r.model, (r.eval_date, r.run_id)) as model, count(distinct r.run_id) as runs,
                   arg_max(r.score, (r.eval_date, r.run_id)) as latest_score, max(r.eval_date) as latest_date,
                   arg_max(r.institute, (r.eval_date, r.run_id)) as latest_institute, max(r.score) as best_score,
                   list(distinct struct_pack(d := r.eval_date, id := r.run_id, s := r.score)) as points
            from mapped m join runs r on r.k = m.benchmark_key
            group by m.benchmark_key
        )
        select link, via, benchmark, model, runs, latest_score, latest_date, latest_institute, best_score, trend
        from by_model
        union all
        select link, via, benchmark, model, runs, latest_score, latest_date, latest_institute, best_score,
               list_transform(list_sort(points), lambda p: p.s) as trend
        from by_technique
        order by link, lower(benchmark)
        """


# -- benchmark or technique -> incidents ---------------------------------------------------------------------


def _incidents_citing(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    filters: Filters,
    today: date,
    techniques: str,
    params: dict[str, Any],
    limit: int,
) -> Scoped[pd.DataFrame]:
    """Incidents matching the filters that cite one of `techniques` (a subquery of technique ids, its values in
    `params`) or a sub-technique of one, newest first: id, occurred_on, title, originator, source, category,
    severity, tlp, techniques (the matching ones). `marking.rows` is how many match in all; at most `limit`
    are listed. The one reading behind the matrix's technique detail and the evaluations page's benchmark."""
    where, fparams = filters.sql_where(viewer, today)
    params = {**fparams, **params, "lim": int(limit)}
    match = (
        "select it.incident_id, it.technique_id from incident_techniques it "
        f"where it.technique_id in ({techniques}) or left(it.technique_id, 9) in ({techniques})"
    )
    df = con.execute(
        f"""
        select i.id, i.occurred_on, i.title, i.originator, i.source, i.category, i.severity, i.tlp,
               list(distinct m.technique_id order by m.technique_id) as techniques
        from incidents i join ({match}) m on m.incident_id = i.id
        where {where}
        group by all
        order by i.occurred_on desc, i.id
        limit $lim
        """,
        params,
    ).df()
    marking_where = f"{where} and i.id in (select incident_id from ({match}))"
    marking = highest_marking(con, "incidents i", marking_where, used_params(marking_where, params))
    return Scoped(df, marking)


def incidents_for_benchmark(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    benchmark: str,
    filters: Filters,
    today: date,
    limit: int = 200,
) -> Scoped[pd.DataFrame]:
    """Incidents matching the filters whose techniques the benchmark is mapped to (a mapping to a technique
    covers its sub-techniques), newest first; see `_incidents_citing` for the columns and the marking."""
    pred, mparams = mapping_predicate(viewer)
    mapped = f"select bt.technique_id from benchmark_techniques bt where bt.benchmark_key = $bkey and {pred}"
    return _incidents_citing(
        con, viewer, filters, today, mapped, {**mparams, "bkey": bench_key(benchmark)}, limit
    )


def incidents_for_technique(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    filters: Filters,
    today: date,
    technique_id: str,
    limit: int = 200,
) -> Scoped[pd.DataFrame]:
    """Incidents matching the filters that cite the technique (or, for a parent, any sub-technique), newest
    first; see `_incidents_citing` for the columns and the marking."""
    return _incidents_citing(con, viewer, filters, today, "select $tid", {"tid": technique_id}, limit)
