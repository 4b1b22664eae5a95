"""The threat matrix: ATLAS techniques against the incidents a viewer may see and the evaluations that cover them.

`recompute` answers the page's main question in two statements: which benchmarks with visible results cover
each technique (small), then one pass over the filtered incidents' techniques that counts, per technique,
incidents (split by originating institute) and "gap" incidents — those citing a technique no evaluation covers.

Counting rules, written down because each is a choice:

- a parent cell rolls up its sub-techniques: it counts the distinct incidents citing the parent or any of its
  sub-techniques (an incident citing AML.T0051 and AML.T0051.001 counts once); a sub-technique counts its own;
- coverage counts benchmarks mapped to the technique that have at least one successful run the viewer may
  see. A benchmark mapped to a parent covers its sub-techniques; a parent cell shows every benchmark mapped to
  the parent or any sub-technique;
- an incident technique is covered when a benchmark with visible results maps to it or to its parent, or — for a
  parent cited as such — to any of its sub-techniques. A gap incident cites at least one uncovered technique;
- the split by who reported counts UK and AU (institute reporting) and public sources (originator PUBLIC:
  ATLAS case studies, AIID, ...) in three columns; public records are never UK or AU, and "UK − AU" compares
  institute reporting only;
- a technique retired by a later ATLAS release is not a cell (its incidents still count for the others), but an
  incident citing a retired or unknown id is a gap incident (no evaluation mapped to the current taxonomy can
  cover what ATLAS no longer defines), and each such id is listed in `flagged` so the analyst can re-map it.
  Otherwise ATLAS retiring a technique would silently shrink the gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from analytics.access.markings import (
    TLP_LEVELS,
    Marking,
    Scoped,
    combine_markings,
    marking_from_row,
    marking_select_sql,
)
from analytics.access.viewer import Viewer
from analytics.filters import Filters
from analytics.links.queries import bench_key_sql, mapping_predicate, runs_predicate, used_params
from analytics.matrix import taxonomy

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True

MODES: dict[str, str] = {
    "incidents": "Incidents",
    "coverage": "Evaluation coverage",
    "gaps": "Gaps",
}
COMPARE: dict[str, str] = {
    "combined": "All reporting (as filtered)",
    "separate": "UK, AU and public sources apart",
    "difference": "Difference (UK − AU)",
}


@dataclass(frozen=True)
class MatrixData:
    """One row per current technique (parents rolled up): technique_id, parent_id, incidents, uk, au, public
    (public sources' incidents), benchmarks (list of benchmark names covering it), n_benchmarks,
    gap_incidents, covered. `flagged`: one row per retired or unknown technique id cited by a matching
    incident: technique_id, name, removed_in, status ('retired' | 'unknown'), incidents, uk, au, public."""

    cells: pd.DataFrame
    incidents: int  # incidents matching the filters
    with_techniques: int  # of which cite at least one technique
    gap_incidents: int  # of which cite an uncovered technique (retired and unknown ids included)
    runs_marking: Marking = field(default_factory=lambda: Marking(rows=0))
    flagged: pd.DataFrame = field(default_factory=lambda: _flagged_frame([]))

    @property
    def techniques_seen(self) -> int:
        """Top-level techniques (sub-techniques rolled up) cited by at least one matching incident."""
        c = self.cells
        return int(((c["incidents"] > 0) & c["parent_id"].isna()).sum())

    @property
    def covered(self) -> set[str]:
        return set(self.cells.loc[self.cells["covered"], "technique_id"])


def coverage(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> Scoped[pd.DataFrame]:
    """Mapped technique -> benchmarks with visible successful runs: technique_id, benchmark, runs."""
    pred, mparams = mapping_predicate(viewer)
    runs, rparams = runs_predicate(viewer)
    params = {**mparams, **rparams}
    sql = f"""
        with runs as (
            select {bench_key_sql("r.benchmark")} as k, count(*) as n from eval_runs r where {runs} group by 1
        )
        select bt.technique_id, min(bt.benchmark) as benchmark, any_value(runs.n) as runs
        from benchmark_techniques bt join runs on runs.k = bt.benchmark_key
        where {pred}
        group by bt.technique_id, bt.benchmark_key
        order by bt.technique_id, lower(min(bt.benchmark))
    """
    df = con.execute(sql, params).df()
    msql = (
        f"select {marking_select_sql('r')} from eval_runs r where {runs} and {bench_key_sql('r.benchmark')} in "
        f"(select bt.benchmark_key from benchmark_techniques bt where {pred})"
    )
    row = con.execute(msql, used_params(msql, params)).fetchone()
    assert row is not None
    return Scoped(df, marking_from_row(*row) if row[3] else Marking(rows=0))


def _coverage_by_technique(cov: pd.DataFrame, techs: pd.DataFrame) -> tuple[dict[str, list[str]], set[str]]:
    """(benchmarks shown per cell, techniques covered for gap purposes); see the module docstring."""
    mapped: dict[str, set[str]] = {}
    for tid, bench in zip(cov["technique_id"], cov["benchmark"], strict=True):
        mapped.setdefault(str(tid), set()).add(str(bench))
    children: dict[str, list[str]] = {}
    for tid, parent in zip(techs["id"], techs["parent_id"], strict=True):
        if isinstance(parent, str) and parent:
            children.setdefault(parent, []).append(str(tid))
    shown: dict[str, list[str]] = {}
    covered: set[str] = set()
    for tid, parent in zip(techs["id"], techs["parent_id"], strict=True):
        tid = str(tid)
        if isinstance(parent, str) and parent:
            benches = mapped.get(tid, set()) | mapped.get(parent, set())
        else:
            benches = set(mapped.get(tid, set()))
            for child in children.get(tid, []):
                benches |= mapped.get(child, set())
        shown[tid] = sorted(benches, key=str.lower)
        if benches:
            covered.add(tid)
    return shown, covered


def recompute(con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date) -> Scoped[MatrixData]:
    """Everything the matrix page draws, for this viewer and these filters, with the marking of the incidents
    behind it (evaluation coverage is marked separately in `runs_marking`)."""
    techs = taxonomy.techniques(con)
    cov = coverage(con, viewer)
    shown, covered = _coverage_by_technique(cov.data, techs)
    # Gaps are what no evaluation covers among everything cited: current ids not covered, and every retired or
    # unknown id (a semi-join against the covered ids, so an id ATLAS dropped cannot vanish from the gaps).
    where, params = f.sql_where(viewer, today)
    params = {**params, "covered": sorted(covered), "current": sorted(techs["id"].astype(str))}
    levels = ", ".join(f"'{t}'" for t in TLP_LEVELS)
    # One statement: the visible incidents are read once (their marking comes from the same rows), joined to
    # their techniques once, and counted. Per-row work is on small integers, not text: each cited technique id
    # gets an ordinal (`ids`, one row per distinct id, with its gap flag and its family), so the 1.3M joined rows
    # at 1M incidents carry (incident key, originator code, ordinal, gap, family) and every count groups integers.
    # Distinct-incident counts are only needed where one incident can cite several techniques of a family (a
    # parent and its sub-techniques: `fams`, every family with a sub-technique cited anywhere, which is harmless
    # beyond the visible ones: deduplicating a family nobody cites twice changes no count); elsewhere a row is an
    # incident. Gap membership is looked up once per distinct id, not once per row. Issue 21: about half the
    # previous statement's time at 1M incidents (docs/benchmarks.md).
    sql = f"""
        with vis as materialized (
            select i.incident_key as k, ((i.originator = 'UK')::utinyint + 2 * (i.originator = 'AU')::utinyint) as o,
                   i.tlp, list_contains(i.releasable_to, 'UK') as rel_uk,
                   list_contains(i.releasable_to, 'AU') as rel_au, i.source
            from incidents i where {where}
        ),
        ids as materialized (
            select tid, (row_number() over (order by tid))::integer as t, left(tid, 9) as pid,
                   tid not in (select unnest($covered::varchar[])) as gap
            from (select distinct technique_id as tid from incident_techniques)
        ),
        fams as materialized (
            select pid, (row_number() over (order by pid))::integer as f
            from (select distinct pid from ids where tid <> pid)
        ),
        idf as materialized (select ids.*, fams.f from ids left join fams using (pid)),
        hit as materialized (
            select v.k, v.o, x.t, x.gap, x.f
            from incident_techniques it join idf x on x.tid = it.technique_id join vis v on v.k = it.incident_key
        ),
        by_t as materialized (
            select t, count(*) as n, count(*) filter (o = 1) as n_uk, count(*) filter (o = 2) as n_au
            from hit group by t
        ),
        bt as materialized (
            select x.tid, x.pid, b.n, b.n_uk, b.n_au, case when x.gap then b.n else 0 end as n_gap, x.f
            from by_t b join idf x using (t)
        ),
        fam as (
            select f, count(*) as n, count(*) filter (o = 1) as n_uk, count(*) filter (o = 2) as n_au,
                   count(*) filter (gap) as n_gap
            from (select f, k, any_value(o) as o, bool_or(gap) as gap from hit where f is not null group by f, k)
            group by f
        ),
        -- incidents citing a technique, and citing a gap technique: one bit per incident key, in blocks of 64
        -- keys (a 64-bit mask per block), so 1.3M rows fall into ~16k groups at 1M incidents instead of 855k
        -- (grouping by incident was the old statement's largest cost; a bitmap over the whole key range,
        -- bitstring_agg, was slower than these blocks and needs its range up front on DuckDB 1.5.5)
        per_incident as (
            select coalesce(sum(bit_count(m)), 0)::bigint as n, coalesce(sum(bit_count(m_gap)), 0)::bigint as n_gap
            from (select k >> 6 as block, bit_or(1::ubigint << (k & 63)::ubigint) as m,
                         bit_or(1::ubigint << (k & 63)::ubigint) filter (gap) as m_gap
                  from hit group by block)
        )
        select 'parent' as level, pid as technique_id, sum(n)::bigint as incidents, sum(n_uk)::bigint as uk,
               sum(n_au)::bigint as au, sum(n_gap)::bigint as gap_incidents, null as m
        from bt where f is null group by pid
        union all
        select 'parent', fams.pid, fam.n, fam.n_uk, fam.n_au, fam.n_gap, null from fam join fams using (f)
        union all
        select 'sub', tid, n, n_uk, n_au, n_gap, null from bt where tid <> pid
        union all
        -- retired or unknown ids as cited (not rolled up): flagged beside the matrix
        select 'flagged', tid, n, n_uk, n_au, n_gap, null from bt
        where tid not in (select unnest($current::varchar[]))
        union all
        -- totals ride in the same columns: incidents matching, incidents citing a technique, gap incidents,
        -- and, per source, what the marking of the matching incidents is made of (grouping by source first is
        -- much cheaper than collecting every row's source into one list)
        select 'total', null, (select count(*) from vis), n, null, n_gap,
               (select list(struct_pack(source := source, tlp := t, uk := uk, au := au, n := n))
                from (select i.source, max(list_position([{levels}], i.tlp)) as t,
                             bool_and(i.rel_uk) as uk,
                             bool_and(i.rel_au) as au, count(*) as n
                      from vis i group by i.source))
        from per_incident
    """
    counts = con.execute(sql, params).df()
    total = counts[counts["level"] == "total"].iloc[0]
    flagged = _flagged(con, counts[counts["level"] == "flagged"])
    counts = counts[~counts["level"].isin(("total", "flagged"))].set_index("technique_id")
    cells = techs[["id", "parent_id"]].rename(columns={"id": "technique_id"}).copy()
    for col in ("incidents", "uk", "au", "gap_incidents"):
        cells[col] = cells["technique_id"].map(counts[col]).fillna(0).astype(int)
    # an incident is reported by UK, by AU, or is a public source's (originator PUBLIC): never two of these
    cells["public"] = cells["incidents"] - cells["uk"] - cells["au"]
    cells["benchmarks"] = cells["technique_id"].map(lambda t: shown.get(t, []))
    cells["n_benchmarks"] = cells["benchmarks"].map(len).astype(int)
    cells["covered"] = cells["technique_id"].isin(covered)
    # the same rules as markings.marking_select_sql, combined per source group
    groups = list(total["m"]) if hasattr(total["m"], "__len__") else []  # NULL (no rows) arrives as NA
    marking = (
        combine_markings(marking_from_row(g["tlp"], g["uk"], g["au"], g["n"], [g["source"]]) for g in groups)
        if groups
        else marking_from_row(1, True, True, 0, [])  # what marking_select_sql gives for no rows
    )
    data = MatrixData(
        cells=cells.reset_index(drop=True),
        incidents=int(total["incidents"]),
        with_techniques=int(total["uk"]),
        gap_incidents=int(total["gap_incidents"]),
        runs_marking=cov.marking,
        flagged=flagged,
    )
    return Scoped(data, marking)


_FLAGGED_COLUMNS = ("technique_id", "name", "removed_in", "status", "incidents", "uk", "au", "public")


def _flagged_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """The `flagged` frame's columns and types, also for none."""
    df = pd.DataFrame(rows, columns=list(_FLAGGED_COLUMNS))
    return df.astype({c: "int64" for c in ("incidents", "uk", "au", "public")})


def _flagged(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> pd.DataFrame:
    """Retired or unknown technique ids the matching incidents cite, most cited first, named from the
    taxonomy when ATLAS once defined them (public reference data: no marking of its own)."""
    if rows.empty:
        return _flagged_frame([])
    known = {
        str(tid): (str(name), removed)
        for tid, name, removed in con.execute(
            "select id, name, removed_in from atlas_techniques where list_contains($ids::varchar[], id)",
            {"ids": [str(t) for t in rows["technique_id"]]},
        ).fetchall()
    }
    out: list[tuple[object, ...]] = []
    for tid, n, uk, au in zip(rows["technique_id"], rows["incidents"], rows["uk"], rows["au"], strict=True):
        name, removed = known.get(str(tid), ("", None))
        status = "retired" if str(tid) in known else "unknown"
        out.append((str(tid), name, removed, status, int(n), int(uk), int(au), int(n) - int(uk) - int(au)))
    df = _flagged_frame(out)
    return df.sort_values(["incidents", "technique_id"], ascending=[False, True], ignore_index=True)


def technique_options(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(id, "id name") for every current technique, parents followed by their sub-techniques."""
    techs = taxonomy.techniques(con)
    names = dict(zip(techs["id"], techs["name"], strict=True))
    out: list[tuple[str, str]] = []
    for tid in sorted(names):
        parent = tid[:9]
        label = (
            f"{tid} {names[parent]}: {names[tid]}"
            if tid != parent and parent in names
            else f"{tid} {names[tid]}"
        )
        out.append((tid, label))
    return out
