"""Viewer-scoped questions about evaluation results: benchmarks, capability over time and thresholds; and the
WHERE, interval and marking pieces every evaluation read shares (comparisons.py compares models and the two
institutes, runs.py lists runs and shows one). One function per question, named after its answer.

Every read builds its WHERE from `eval_where`: the viewer's markings on eval_runs (alias `r`) plus the sidebar
filters that mean something for evaluations — the period (on the evaluation date), "reported by" (on the
institute that ran it; public results have institute PUBLIC, so picking UK or AU leaves them out) and TLP. Other
sidebar filters describe incidents and are not applied here; the page says so.

eval_samples and eval_sample_scores carry no markings of their own: they are only ever read joined to (or
filtered by the run ids of) visible eval_runs, and every aggregate over samples runs in DuckDB. Each result
carries the marking of the runs behind it. A run id the viewer may not see behaves exactly like one that does
not exist (None, not an error).

Capability over time draws one frontier per (source, metric, task version), never one line through an
institute's accuracy and Epoch's mean score, and marks best-of-N results (BEST_OF_SQL), because a best of several
attempts is not comparable with one attempt; it can be drawn by model release date or by evaluation date.

Thresholds are one per benchmark, shared by both institutes; they are read and set only for benchmarks the
viewer can see at least one run of, and every change is audited with the old and new value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from analytics.access.markings import (
    Marking,
    Scoped,
    highest_marking,
    marking_from_row,
    marking_select_sql,
    visible_sql,
)
from analytics.access.roles import ASSESSMENT_AUTHORS
from analytics.access.viewer import Viewer
from analytics.filters import Filters
from analytics.stats import eval_stats
from analytics.store import audit

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True

FILTERS_APPLIED = "period (evaluation date), reported by (institute that ran it) and TLP"

# A successful run with a score: the only runs that count as results anywhere on the page.
SCORED = "r.status = 'success' and r.score is not null"

# 95% interval of a run's score. Shares of tasks (Epoch's fraction benchmarks, accuracy metrics) cannot leave
# [0, 1], so the normal interval is clipped there; other units (Elo, minutes, index points) are not clipped.
_IS_SHARE = "(coalesce(r.details->>'unit', '') = 'fraction' or r.metric = 'accuracy')"
# (DuckDB's greatest/least skip NULLs, so a missing stderr is tested first.)
CI_LOW = f"case when r.stderr is null then null when {_IS_SHARE} then greatest(0.0, r.score - {eval_stats.Z95} * r.stderr) else r.score - {eval_stats.Z95} * r.stderr end"
CI_HIGH = f"case when r.stderr is null then null when {_IS_SHARE} then least(1.0, r.score + {eval_stats.Z95} * r.stderr) else r.score + {eval_stats.Z95} * r.stderr end"


def eval_where(viewer: Viewer, f: Filters, today: date) -> tuple[str, dict[str, Any]]:
    """WHERE text over `eval_runs r` and its parameters: markings, then the filters that apply to runs."""
    vis, params = visible_sql(viewer, "eval_runs", "r")
    parts = [vis]
    start, end = f.date_range(today)
    if start is not None:
        parts.append("r.eval_date >= $e_from")
        params["e_from"] = start
    if end is not None:
        parts.append("r.eval_date <= $e_to")
        params["e_to"] = end
    if f.originators:
        parts.append("list_contains($e_inst::varchar[], r.institute)")
        params["e_inst"] = list(f.originators)
    if f.tlps:
        parts.append("list_contains($e_tlps::varchar[], r.tlp)")
        params["e_tlps"] = list(f.tlps)
    return " and ".join(parts), params


def runs_marking(con: duckdb.DuckDBPyConnection, where: str, params: dict[str, Any]) -> Marking:
    """The highest marking of the eval_runs (alias `r`) a WHERE from `eval_where` selects."""
    return highest_marking(con, "eval_runs r", where, params, alias="r")


# -- benchmarks and capability over time ----------------------------------------------------------------------


def benchmark_summary(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[pd.DataFrame]:
    """Benchmarks with scored runs this viewer may see: runs, models, who ran them, whether a threshold is set."""
    where, params = eval_where(viewer, f, today)
    where = f"{where} and {SCORED}"
    df = con.execute(
        "select r.benchmark, count(*) as runs, count(distinct r.model) as models, "
        "count(r.model_release_date) as dated_runs, "
        "list_sort(list_distinct(list(r.institute))) as institutes, "
        "bool_or(coalesce(r.n_samples, 0) > 0) as has_samples, "
        "any_value(t.threshold) as threshold "
        f"from eval_runs r left join eval_thresholds t on t.benchmark = r.benchmark where {where} "
        "group by r.benchmark order by runs desc, r.benchmark",
        params,
    ).df()
    return Scoped(df, runs_marking(con, where, params))


# What a score measures and which way is better, as the imports recorded it: Epoch's import names the unit
# (details.unit: fraction, minutes, ECI, Elo, points...), garak and JailbreakBench say which way is better
# (details.higher_is_better: a jailbreak's attack success rate is better low); Inspect runs score accuracy or
# another share of samples. analytics.evals.charts turns these into axis titles, scales and formats.
UNIT_SQL = "coalesce(r.details->>'unit', 'fraction')"
HIGHER_IS_BETTER_SQL = "coalesce(try_cast(r.details->>'higher_is_better' as boolean), true)"

# The developer a run is drawn under: the first organisation of Epoch's comma-separated lists ("Google
# DeepMind,Google", "Microsoft,NVIDIA", or six universities in 169 characters), so a lab's joint releases sit
# with its own; the full list stays in `developers` for the hover and the download.
LEAD_DEVELOPER_SQL = "coalesce(nullif(trim(split_part(r.model_developer, ',', 1)), ''), 'Unknown developer')"


@dataclass(frozen=True)
class Capability:
    points: pd.DataFrame  # one row per run placed on the chart; `x` is the date it is placed at
    frontier: pd.DataFrame  # line, x, best: per line, the best score up to each date (step lines)
    undated: int  # scored runs of the benchmark without the date the chart is drawn by (not on the chart)
    unit: str  # what the score measures ('fraction' for shares of tasks; else Epoch's unit)
    by: str = "release"  # FRONTIER_DATES key: what the x axis is
    higher_is_better: bool = True  # False when an import said so for every run (attack success rates)
    metrics: tuple[str, ...] = ()  # the metrics the runs report (lower case), for the axis title


# What the capability chart and its frontier are drawn against: an allow-list (names go into SQL).
FRONTIER_DATES: dict[str, str] = {"release": "r.model_release_date", "evaluation": "r.eval_date"}

# One frontier per (source, metric, task version): an institute's "accuracy" on task version 1 and Epoch's
# "mean_score" are different measurements of a benchmark, and a best-so-far line through both mixes them.
FRONTIER_LINE = "concat_ws(' · ', r.source, coalesce(r.metric, 'score'), 'v' || r.task_version)"
_FRONTIER_PARTITION = "partition by r.source, r.metric, r.task_version"

# Best-of-N results are marked, not hidden: a best of several attempts or several reported results is not
# comparable with a single attempt. Two kinds are stored: Epoch's import keeps the best of the rows a model has
# in a CSV (details.rows_for_model, different scaffolds, agents or settings), and a metric can name its attempts
# (pass@k, pass_at_k, best_of_k, "best ..."). pass@1 / OPT@1 / AVG@5 are single attempts or averages: not marked.
_ROWS_FOR_MODEL = "try_cast(r.details->>'rows_for_model' as integer)"
_ATTEMPTS = (
    "try_cast(nullif(regexp_extract(lower(coalesce(r.metric, '')), "
    "'(?:pass@|pass_at_|best[ _-]?of[ _-]?)([0-9]+)', 1), '') as integer)"
)
BEST_OF_SQL = f"""case
    when {_ATTEMPTS} > 1 then 'best of ' || {_ATTEMPTS} || ' attempts (' || r.metric || ')'
    when regexp_matches(lower(coalesce(r.metric, '')), '\\bbest\\b') then 'best across attempts or scorers (' || r.metric || ')'
    when {_ROWS_FOR_MODEL} > 1 then 'best of ' || {_ROWS_FOR_MODEL} || ' reported results'
end"""


def capability_over_time(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    f: Filters,
    today: date,
    benchmark: str,
    by: str = "release",
) -> Scoped[Capability]:
    """Scores on one benchmark against model release date (or evaluation date, `by="evaluation"`), with 95%
    intervals, best-of-N results marked, and one frontier per (source, metric, task version): the best score
    of that line up to each date (the lowest where the import says lower is better)."""
    if by not in FRONTIER_DATES:
        raise ValueError(
            f"capability chart: no such date to draw by: {by!r} (one of {', '.join(FRONTIER_DATES)})"
        )
    x = FRONTIER_DATES[by]
    where, params = eval_where(viewer, f, today)
    where = f"{where} and {SCORED} and r.benchmark = $bench"
    params["bench"] = benchmark
    row = con.execute(
        f"select count(*) filter ({x} is null), "
        "coalesce(any_value(r.details->>'unit') filter (r.source = 'epoch'), 'fraction'), "
        f"coalesce(bool_and({HIGHER_IS_BETTER_SQL}), true), "
        "list_sort(list_distinct(list(lower(r.metric)))) "
        f"from eval_runs r where {where}",
        params,
    ).fetchone()
    assert row is not None
    undated, unit, higher, metrics = row
    # The frontier is the best so far: the highest score, or the lowest where lower is better (an attack
    # success rate). Both SQL pieces come from this fixed choice, never from data.
    best, at_best = ("max", ">=") if higher else ("min", "<=")
    points = con.execute(
        f"select r.run_id, r.model, {LEAD_DEVELOPER_SQL} as developer, "
        "coalesce(r.model_developer, 'Unknown developer') as developers, "
        f"r.model_release_date as release_date, {x} as x, r.score, r.stderr, "
        f"{CI_LOW} as ci_low, {CI_HIGH} as ci_high, "
        "r.source, r.institute, r.eval_date, r.metric, r.task_version, r.tlp, "
        f"{FRONTIER_LINE} as line, {BEST_OF_SQL} as best_of, "
        f"r.score {at_best} {best}(r.score) over ({_FRONTIER_PARTITION} order by {x} "
        "  range between unbounded preceding and current row) as on_frontier "
        f"from eval_runs r where {where} and {x} is not null "
        f"order by {x}, r.score desc, r.run_id",
        params,
    ).df()
    frontier = con.execute(
        f"select line, x, {best}(best) as best from (select {FRONTIER_LINE} as line, {x} as x, "
        f"{best}(r.score) over ({_FRONTIER_PARTITION} order by {x} "
        "range between unbounded preceding and current row) as best "
        f"from eval_runs r where {where} and {x} is not null) group by 1, 2 order by 1, 2",
        params,
    ).df()
    capability = Capability(
        points, frontier, int(undated), str(unit), by, bool(higher), tuple(str(m) for m in metrics or ())
    )
    return Scoped(capability, runs_marking(con, where, params))


def developer_ranking(con: duckdb.DuckDBPyConnection, viewer: Viewer, today: date) -> list[str]:
    """Lead developers of every scored run this viewer may see, most runs first (ties by name). It is only the
    order in which developers take the palette's colours (analytics.evals.charts.developer_colours), so a
    developer keeps one colour in every chart and under any sidebar filter; nothing shows the list itself."""
    where, params = eval_where(viewer, Filters(), today)
    rows = con.execute(
        f"select {LEAD_DEVELOPER_SQL} as developer, count(*) as n from eval_runs r where {where} and {SCORED} "
        "group by 1 order by n desc, developer",
        params,
    ).fetchall()
    return [str(d) for d, _ in rows]


# -- thresholds -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    benchmark: str
    threshold: float
    note: str | None
    set_by: str
    set_by_institute: str
    set_at: Any


def _benchmark_visible(con: duckdb.DuckDBPyConnection, viewer: Viewer, benchmark: str) -> bool:
    vis, params = visible_sql(viewer, "eval_runs", "r")
    params["bench"] = benchmark
    row = con.execute(
        f"select exists (select 1 from eval_runs r where {vis} and r.benchmark = $bench)", params
    ).fetchone()
    return bool(row and row[0])


def threshold_for(con: duckdb.DuckDBPyConnection, viewer: Viewer, benchmark: str) -> Threshold | None:
    """The threshold in force for a benchmark this viewer can see runs of; None otherwise."""
    if not _benchmark_visible(con, viewer, benchmark):
        return None
    row = con.execute(
        "select benchmark, threshold, note, set_by, set_by_institute, set_at from eval_thresholds "
        "where benchmark = ?",
        [benchmark],
    ).fetchone()
    return Threshold(*row) if row else None


def set_threshold(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, benchmark: str, value: float, note: str = ""
) -> Threshold:
    """Analysts and leads set (or change) the threshold of a benchmark they can see; audited, old and new."""
    audit.require(con, viewer, *ASSESSMENT_AUTHORS, action="eval threshold set", obj=f"benchmark:{benchmark}")
    if not _benchmark_visible(con, viewer, benchmark):
        raise ValueError("no such benchmark")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError("a threshold must be a finite number")
    text = note.strip()[:500] or None
    old = con.execute(
        "select threshold, note from eval_thresholds where benchmark = ?", [benchmark]
    ).fetchone()
    con.execute(
        "insert or replace into eval_thresholds (benchmark, threshold, note, set_by, set_by_institute, set_at) "
        "values (?, ?, ?, ?, ?, current_timestamp)",
        [benchmark, v, text, viewer.email, viewer.institute],
    )
    audit.record(
        con,
        viewer.email,
        "eval threshold set",
        f"benchmark:{benchmark}",  # the log stores an opaque digest of the name, never the name or the note
        {"old": old[0] if old else None, "new": v, "note_set": text is not None},
    )
    result = threshold_for(con, viewer, benchmark)
    assert result is not None
    return result


def clear_threshold(con: duckdb.DuckDBPyConnection, viewer: Viewer, benchmark: str) -> bool:
    """Remove a benchmark's threshold; audited. False when there was none (or the benchmark is not visible)."""
    audit.require(
        con, viewer, *ASSESSMENT_AUTHORS, action="eval threshold cleared", obj=f"benchmark:{benchmark}"
    )
    if not _benchmark_visible(con, viewer, benchmark):
        return False
    old = con.execute("select threshold from eval_thresholds where benchmark = ?", [benchmark]).fetchone()
    if not old:
        return False
    con.execute("delete from eval_thresholds where benchmark = ?", [benchmark])
    audit.record(con, viewer.email, "eval threshold cleared", f"benchmark:{benchmark}", {"old": old[0]})
    return True


@dataclass(frozen=True)
class Crossings:
    models: pd.DataFrame  # model, developer, release_date, best_score, runs crossing
    first_by_developer: pd.DataFrame  # developer, first_model, first_crossed (release date)


def threshold_crossings(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date, benchmark: str, threshold: float
) -> Scoped[Crossings]:
    """Models whose visible score on the benchmark reaches the threshold, and when each developer first did
    (by model release date)."""
    where, params = eval_where(viewer, f, today)
    where = f"{where} and {SCORED} and r.benchmark = $bench and r.score >= $thr"
    params.update(bench=benchmark, thr=float(threshold))
    models = con.execute(
        "select r.model, coalesce(r.model_developer, 'Unknown developer') as developer, "
        "min(r.model_release_date) as release_date, max(r.score) as best_score, count(*) as runs, "
        "list_sort(list_distinct(list(r.institute))) as institutes "
        f"from eval_runs r where {where} group by all order by release_date nulls last, best_score desc",
        params,
    ).df()
    first = con.execute(
        "select developer, arg_min(model, release_date) as first_model, min(release_date) as first_crossed, "
        "count(distinct model) as models from (select coalesce(r.model_developer, 'Unknown developer') as "
        "developer, r.model, r.model_release_date as release_date "
        f"from eval_runs r where {where} and r.model_release_date is not null) "
        "group by developer order by first_crossed, developer",
        params,
    ).df()
    return Scoped(Crossings(models, first), runs_marking(con, where, params))


def marking_of_runs(con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date) -> Marking:
    """The marking of every run the page draws on under these filters (for the page's top banner)."""
    where, params = eval_where(viewer, f, today)
    row = con.execute(f"select {marking_select_sql('r')} from eval_runs r where {where}", params).fetchone()
    assert row is not None
    return marking_from_row(*row)
