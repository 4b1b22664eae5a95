"""Viewer-scoped questions about evaluation results, one function per question, named after its answer.

Every read builds its WHERE from `eval_where`: the viewer's markings on eval_runs (alias `r`) plus the sidebar
filters that mean something for evaluations — the period (on the evaluation date), "reported by" (on the
institute that ran it; public results have institute PUBLIC, so picking UK or AU leaves them out) and TLP. Other
sidebar filters describe incidents and are not applied here; the page says so.

eval_samples and eval_sample_scores carry no markings of their own: they are only ever read joined to (or
filtered by the run ids of) visible eval_runs, and every aggregate over samples runs in DuckDB. Each result
carries the marking of the runs behind it. A run id the viewer may not see behaves exactly like one that does
not exist (None, not an error).

Thresholds are one per benchmark, shared by both institutes; they are read and set only for benchmarks the
viewer can see at least one run of, and every change is audited with the old and new value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
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
from analytics.access.viewer import Viewer
from analytics.filters import Filters
from analytics.stats import eval_stats
from analytics.store import audit

THRESHOLD_ROLES: tuple[str, ...] = ("analyst", "lead")
MAX_COMPARED_MODELS = 5
MIN_PAIRED_SAMPLES = 10
SAMPLE_PAGE_SIZES: tuple[int, ...] = (25, 50, 100, 200)
FILTERS_APPLIED = "period (evaluation date), reported by (institute that ran it) and TLP"
PUBLIC_CREDIT = "Epoch AI Benchmarking Hub, CC BY 4.0"

# A successful run with a score: the only runs that count as results anywhere on the page.
_SCORED = "r.status = 'success' and r.score is not null"

# 95% interval of a run's score. Shares of tasks (Epoch's fraction benchmarks, accuracy metrics) cannot leave
# [0, 1], so the normal interval is clipped there; other units (Elo, minutes, index points) are not clipped.
_IS_SHARE = "(coalesce(r.details->>'unit', '') = 'fraction' or r.metric = 'accuracy')"
# (DuckDB's greatest/least skip NULLs, so a missing stderr is tested first.)
_CI_LOW = f"case when r.stderr is null then null when {_IS_SHARE} then greatest(0.0, r.score - {eval_stats.Z95} * r.stderr) else r.score - {eval_stats.Z95} * r.stderr end"
_CI_HIGH = f"case when r.stderr is null then null when {_IS_SHARE} then least(1.0, r.score + {eval_stats.Z95} * r.stderr) else r.score + {eval_stats.Z95} * r.stderr end"


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


def _marking(con: duckdb.DuckDBPyConnection, where: str, params: dict[str, Any]) -> Marking:
    return highest_marking(con, "eval_runs r", where, params, alias="r")


def _none_if_nan(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, float) and math.isnan(x):
        return None
    if x is pd.NaT:
        return None
    return x


# -- benchmarks and capability over time ----------------------------------------------------------------------


def benchmark_summary(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[pd.DataFrame]:
    """Benchmarks with scored runs this viewer may see: runs, models, who ran them, whether a threshold is set."""
    where, params = eval_where(viewer, f, today)
    where = f"{where} and {_SCORED}"
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
    return Scoped(df, _marking(con, where, params))


@dataclass(frozen=True)
class Capability:
    points: pd.DataFrame  # one row per run placed on the chart
    frontier: pd.DataFrame  # release_date, best: the best score released so far (step line)
    undated: int  # scored runs of the benchmark without a model release date (not on the chart)
    unit: str  # what the score measures ('fraction' for shares of tasks; else Epoch's unit)


def capability_over_time(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date, benchmark: str
) -> Scoped[Capability]:
    """Scores on one benchmark against model release date, with 95% intervals and the frontier of the best
    score released so far."""
    where, params = eval_where(viewer, f, today)
    where = f"{where} and {_SCORED} and r.benchmark = $bench"
    params["bench"] = benchmark
    points = con.execute(
        "select r.run_id, r.model, coalesce(r.model_developer, 'Unknown developer') as developer, "
        "r.model_release_date as release_date, r.score, r.stderr, "
        f"{_CI_LOW} as ci_low, {_CI_HIGH} as ci_high, "
        "r.source, r.institute, r.eval_date, r.task_version, r.tlp, "
        "r.score >= max(r.score) over (order by r.model_release_date "
        "  range between unbounded preceding and current row) as on_frontier "
        f"from eval_runs r where {where} and r.model_release_date is not null "
        "order by r.model_release_date, r.score desc, r.run_id",
        params,
    ).df()
    frontier = con.execute(
        "select release_date, max(best) as best from (select r.model_release_date as release_date, "
        "max(r.score) over (order by r.model_release_date range between unbounded preceding and current row) "
        f"as best from eval_runs r where {where} and r.model_release_date is not null) group by 1 order by 1",
        params,
    ).df()
    row = con.execute(
        "select count(*) filter (r.model_release_date is null), "
        "coalesce(any_value(r.details->>'unit') filter (r.source = 'epoch'), 'fraction') "
        f"from eval_runs r where {where}",
        params,
    ).fetchone()
    assert row is not None
    return Scoped(Capability(points, frontier, int(row[0]), str(row[1])), _marking(con, where, params))


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
    audit.require(con, viewer, *THRESHOLD_ROLES, action="eval threshold set", obj=f"benchmark:{benchmark}")
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
        con, viewer, *THRESHOLD_ROLES, action="eval threshold cleared", obj=f"benchmark:{benchmark}"
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
    where = f"{where} and {_SCORED} and r.benchmark = $bench and r.score >= $thr"
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
    return Scoped(Crossings(models, first), _marking(con, where, params))


# -- model comparison -----------------------------------------------------------------------------------------


def model_options(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> list[tuple[str, int]]:
    """Models with scored visible runs and on how many benchmarks, most-evaluated first."""
    where, params = eval_where(viewer, f, today)
    rows = con.execute(
        f"select r.model, count(distinct r.benchmark) as n from eval_runs r where {where} and {_SCORED} "
        "group by r.model order by n desc, r.model",
        params,
    ).fetchall()
    return [(str(m), int(n)) for m, n in rows]


@dataclass(frozen=True)
class Comparison:
    scores: pd.DataFrame  # benchmark, model, run_id, institute, source, score, stderr, ci_low, ci_high, n
    pairs: (
        pd.DataFrame
    )  # benchmark, model_a, model_b, test, n_paired, diff, ci_low, ci_high, p, p_holm, verdict
    single: list[str] = field(default_factory=list)  # benchmarks where only one of the models has a result


# One run per model and benchmark: prefer a run with sample-level data (it can be paired), then the latest.
_CHOSEN_SQL = """
select * from (
    select r.run_id, r.model, r.benchmark, r.institute, r.source, r.score, r.stderr,
        {ci_low} as ci_low, {ci_high} as ci_high, r.n_samples, r.eval_date, r.task_version,
        row_number() over (partition by r.model, r.benchmark
            order by coalesce(r.n_samples, 0) > 0 desc, r.eval_date desc nulls last, r.run_id desc) as pick
    from eval_runs r where {where} and {scored} and list_contains($models::varchar[], r.model)
) where pick = 1
"""

# Every pair of chosen runs on a benchmark, in one pass over eval_samples: each chosen run's samples are
# gathered into one row per (benchmark, sample) holding every model's score (epochs averaged), and for each
# pair of models the distinct per-sample differences are counted. From those counts come the shared-sample
# count, the mean difference, McNemar's discordant pairs (d = 1 and d = -1 when every score is 0/1) and the
# bootstrap. Grouping by (benchmark, sample) once is several times cheaper than grouping per run and joining
# runs pairwise. `{scores}` is a fixed list of `avg(...) filter (c.k = <int>)` built from model positions.
_PAIR_DIFFS_SQL = """
with chosen as ({chosen}),
indexed as (
    select run_id, benchmark, list_position($models::varchar[], model) as k
    from chosen where coalesce(n_samples, 0) > 0
),
per_sample as (
    select c.benchmark, s.sample_id, list_value({scores}) as v
    from eval_samples s join indexed c on c.run_id = s.run_id
    where s.score is not null
    group by c.benchmark, s.sample_id
),
model_pairs as (select a.i, b.j from range(1, $n_models + 1) a(i), range(1, $n_models + 1) b(j) where a.i < b.j)
select p.benchmark, m.i, m.j, round(p.v[m.i] - p.v[m.j], 9) as d, count(*) as n,
    bool_and(p.v[m.i] in (0, 1) and p.v[m.j] in (0, 1)) as is_binary
from per_sample p, model_pairs m
where p.v[m.i] is not null and p.v[m.j] is not null
group by all
order by all
"""


def compare_models(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date, models: tuple[str, ...]
) -> Scoped[Comparison]:
    """Scores of 2–5 models on every benchmark where at least two of them have a visible result, with 95%
    intervals, and for each pair of models a test of whether the difference is real: paired (McNemar or
    bootstrap) over shared samples where both runs have sample-level data, else an unpaired z-test from the
    runs' standard errors. p-values are Holm-adjusted within each benchmark."""
    # Alphabetical, so position i < j means model_a < model_b in every pair below.
    picked = sorted(list(dict.fromkeys(models))[:MAX_COMPARED_MODELS])
    where, params = eval_where(viewer, f, today)
    params["models"] = picked
    chosen_sql = _CHOSEN_SQL.format(where=where, scored=_SCORED, ci_low=_CI_LOW, ci_high=_CI_HIGH)
    chosen = con.execute(chosen_sql + " order by benchmark, model", params).df()
    counts = chosen.groupby("benchmark")["model"].nunique() if not chosen.empty else pd.Series(dtype=int)
    shared = sorted(str(b) for b in counts[counts >= 2].index)
    single = sorted(str(b) for b in counts[counts < 2].index)
    scores = chosen[chosen["benchmark"].isin(shared)].drop(columns=["pick"]).reset_index(drop=True)

    # Per pair: the distinct per-sample differences and how often each occurs.
    diffs: dict[tuple[str, str, str], list[tuple[float, int, bool]]] = {}
    if len(picked) >= 2 and not scores.empty:
        score_list = ", ".join(f"avg(s.score) filter (c.k = {k})" for k in range(1, len(picked) + 1))
        rows = con.execute(
            _PAIR_DIFFS_SQL.format(chosen=chosen_sql, scores=score_list), {**params, "n_models": len(picked)}
        ).fetchall()
        for bench, i, j, d, n, is_binary in rows:
            key = (str(bench), picked[int(i) - 1], picked[int(j) - 1])
            diffs.setdefault(key, []).append((float(d), int(n), bool(is_binary)))

    by_key = {(str(r["benchmark"]), str(r["model"])): r for r in _records(scores)}
    pair_rows: list[dict[str, Any]] = []
    for bench in shared:
        here = sorted(m for (b, m) in by_key if b == bench)
        for i, ma in enumerate(here):
            for mb in here[i + 1 :]:
                pair_rows.append(_pair_row(bench, ma, mb, by_key, diffs.get((bench, ma, mb), [])))
    for bench in shared:
        tested = [r for r in pair_rows if r["benchmark"] == bench and r["p"] is not None]
        for r, adjusted in zip(tested, eval_stats.holm([float(r["p"]) for r in tested]), strict=True):
            r["p_holm"] = adjusted
    for r in pair_rows:
        r["verdict"] = _verdict(r)
    pairs = pd.DataFrame(pair_rows, columns=_PAIR_COLUMNS)

    mwhere = f"{where} and {_SCORED} and r.run_id = any($runs)"
    mparams = {k: v for k, v in params.items() if k != "models"}
    marking = _marking(con, mwhere, {**mparams, "runs": scores["run_id"].tolist()})
    return Scoped(Comparison(scores, pairs, single), marking)


_PAIR_COLUMNS = [
    "benchmark",
    "model_a",
    "model_b",
    "score_a",
    "score_b",
    "test",
    "n_paired",
    "diff",
    "ci_low",
    "ci_high",
    "p",
    "p_holm",
    "verdict",
]


def _pair_row(
    bench: str,
    ma: str,
    mb: str,
    by_key: dict[tuple[str, str], dict[str, Any]],
    differences: list[tuple[float, int, bool]],
) -> dict[str, Any]:
    a, b = by_key[(bench, ma)], by_key[(bench, mb)]
    row: dict[str, Any] = {
        "benchmark": bench,
        "model_a": ma,
        "model_b": mb,
        "score_a": float(a["score"]),
        "score_b": float(b["score"]),
        "test": None,
        "n_paired": 0,
        "diff": float(a["score"]) - float(b["score"]),
        "ci_low": None,
        "ci_high": None,
        "p": None,
        "p_holm": None,
        "verdict": "",
    }
    n = sum(k for _, k, _ in differences)
    if n >= MIN_PAIRED_SAMPLES:
        if all(binary for _, _, binary in differences):
            b10 = sum(k for d, k, _ in differences if d == 1.0)
            b01 = sum(k for d, k, _ in differences if d == -1.0)
            res = eval_stats.paired_binary(n, b10, b01)
        else:
            res = eval_stats.paired_bootstrap([d for d, _, _ in differences], [k for _, k, _ in differences])
        row.update(
            test=res.test,
            n_paired=res.n,
            diff=res.diff,
            ci_low=res.ci_low,
            ci_high=res.ci_high,
            p=res.p_value,
        )
        return row
    row["n_paired"] = n
    se_a, se_b = _none_if_nan(a["stderr"]), _none_if_nan(b["stderr"])
    if se_a is not None and se_b is not None:
        diff, lo, hi, p = eval_stats.unpaired_z(
            float(a["score"]), float(se_a), float(b["score"]), float(se_b)
        )
        row.update(test="z-test (unpaired)", diff=diff, ci_low=lo, ci_high=hi, p=p)
    return row


def _verdict(r: dict[str, Any]) -> str:
    if r["p_holm"] is None:
        if 0 < r["n_paired"] < MIN_PAIRED_SAMPLES:
            return f"too few shared samples ({r['n_paired']}): cannot test"
        return "no interval for one of the runs: cannot test"
    if float(r["p_holm"]) < eval_stats.ALPHA:
        better = r["model_a"] if r["diff"] > 0 else r["model_b"]
        return f"real difference: {better} higher"
    return "no clear difference"


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts with missing values as None (pandas gives NaN/NaT/NA)."""
    return [{str(k): _none_if_nan(v) for k, v in row.items()} for row in df.to_dict("records")]


# -- cross-institute agreement --------------------------------------------------------------------------------

_AGREEMENT_SQL = """
with latest as (
    select r.run_id, r.model, r.benchmark, r.task_version, r.institute, r.score, r.stderr, r.eval_date,
        {ci_low} as ci_low, {ci_high} as ci_high,
        row_number() over (partition by r.model, r.benchmark, r.task_version, r.institute
            order by r.eval_date desc nulls last, r.run_id desc) as pick
    from eval_runs r where {where} and {scored} and r.institute in ('UK', 'AU')
)
select uk.model, uk.benchmark, uk.task_version,
    uk.run_id as uk_run, uk.score as uk_score, uk.stderr as uk_stderr, uk.ci_low as uk_lo, uk.ci_high as uk_hi,
    au.run_id as au_run, au.score as au_score, au.stderr as au_stderr, au.ci_low as au_lo, au.ci_high as au_hi
from latest uk join latest au
    on au.model = uk.model and au.benchmark = uk.benchmark
    and au.task_version is not distinct from uk.task_version
where uk.institute = 'UK' and au.institute = 'AU' and uk.pick = 1 and au.pick = 1
order by uk.benchmark, uk.model, uk.task_version
"""

AGREEMENT_STATUSES: dict[str, str] = {
    "disagree": "95% intervals do not overlap: follow up",
    "check": "intervals overlap but the difference is significant at 5%",
    "agree": "consistent within uncertainty",
    "no interval": "a run has no standard error: cannot judge",
}


def institute_agreement(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[pd.DataFrame]:
    """Same model, benchmark and task version run by both UK and AU (latest run of each): both scores with 95%
    intervals, the difference, whether the intervals overlap, a z-test of the difference, and a status
    (disagreements flagged for follow-up)."""
    where, params = eval_where(viewer, f, today)
    df = con.execute(
        _AGREEMENT_SQL.format(where=where, scored=_SCORED, ci_low=_CI_LOW, ci_high=_CI_HIGH), params
    ).df()
    out = []
    for r in _records(df):
        uk_lo, uk_hi, au_lo, au_hi = r["uk_lo"], r["uk_hi"], r["au_lo"], r["au_hi"]
        diff = float(r["uk_score"]) - float(r["au_score"])
        overlap: bool | None = None
        p: float | None = None
        status = "no interval"
        if uk_lo is not None and uk_hi is not None and au_lo is not None and au_hi is not None:
            overlap = eval_stats.intervals_overlap(uk_lo, uk_hi, au_lo, au_hi)
            _, _, _, p = eval_stats.unpaired_z(
                float(r["uk_score"]), float(r["uk_stderr"]), float(r["au_score"]), float(r["au_stderr"])
            )
            status = "disagree" if not overlap else ("check" if p < eval_stats.ALPHA else "agree")
        out.append(
            {
                "model": r["model"],
                "benchmark": r["benchmark"],
                "task_version": r["task_version"],
                "uk_score": float(r["uk_score"]),
                "uk_ci_low": uk_lo,
                "uk_ci_high": uk_hi,
                "au_score": float(r["au_score"]),
                "au_ci_low": au_lo,
                "au_ci_high": au_hi,
                "difference": diff,
                "overlap": overlap,
                "p_value": p,
                "status": status,
                "uk_run": r["uk_run"],
                "au_run": r["au_run"],
            }
        )
    result = pd.DataFrame(
        out,
        columns=[
            "model",
            "benchmark",
            "task_version",
            "uk_score",
            "uk_ci_low",
            "uk_ci_high",
            "au_score",
            "au_ci_low",
            "au_ci_high",
            "difference",
            "overlap",
            "p_value",
            "status",
            "uk_run",
            "au_run",
        ],
    )
    # Flagged pairs first: they are what an analyst follows up.
    rank = {status: k for k, status in enumerate(AGREEMENT_STATUSES)}
    result = (
        result.assign(_rank=result["status"].map(rank))
        .sort_values(["_rank", "benchmark", "model"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )
    runs = result["uk_run"].tolist() + result["au_run"].tolist()
    marking = _marking(con, f"{where} and r.run_id = any($runs)", {**params, "runs": runs})
    return Scoped(result, marking)


# -- run detail -----------------------------------------------------------------------------------------------


def runs_of_benchmark(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date, benchmark: str
) -> Scoped[pd.DataFrame]:
    """Every visible run of a benchmark (any status), newest first, for choosing one to inspect."""
    where, params = eval_where(viewer, f, today)
    where = f"{where} and r.benchmark = $bench"
    params["bench"] = benchmark
    df = con.execute(
        "select r.run_id, r.model, r.institute, r.source, r.status, r.score, r.eval_date, r.task_version, "
        "coalesce(r.n_samples, 0) as n_samples, "
        "concat_ws(' · ', r.model, r.institute, r.status, strftime(r.eval_date, '%Y-%m-%d')) as label "
        f"from eval_runs r where {where} order by r.eval_date desc nulls last, r.model, r.run_id",
        params,
    ).df()
    return Scoped(df, _marking(con, where, params))


@dataclass(frozen=True)
class RunDetail:
    run: dict[str, Any]  # the eval_runs row (details parsed)
    metrics: pd.DataFrame  # scorer, metric, value
    distribution: pd.DataFrame  # value, score, samples
    samples_total: int
    other_scorers: list[str]


def run_detail(con: duckdb.DuckDBPyConnection, viewer: Viewer, run_id: str) -> Scoped[RunDetail] | None:
    """One run, its metrics and the distribution of its per-sample scores; None if the viewer may not see it
    or it does not exist (the two are indistinguishable)."""
    vis, params = visible_sql(viewer, "eval_runs", "r")
    params["rid"] = run_id
    where = f"{vis} and r.run_id = $rid"
    cur = con.execute(
        "select r.run_id, r.institute, r.model, r.model_developer, r.model_release_date, r.benchmark, "
        "r.task_version, r.eval_date, r.metric, r.score, r.stderr, r.n_samples, r.status, r.source, r.tlp, "
        f"r.releasable_to, r.details::varchar as details, r.import_batch from eval_runs r where {where}",
        params,
    )
    cols = [d[0] for d in cur.description or []]
    row = cur.fetchone()
    if row is None:
        return None
    run = dict(zip(cols, row, strict=True))
    run["details"] = json.loads(run["details"]) if run["details"] else {}
    metric_rows = []
    for s in run["details"].get("scores", []) or []:
        for name, value in (s.get("metrics") or {}).items():
            metric_rows.append({"scorer": s.get("scorer"), "metric": name, "value": value})
    if not metric_rows and run["score"] is not None:
        # Runs from other sources report one score (and maybe its standard error), not per-scorer metrics.
        metric_rows.append({"scorer": "(reported)", "metric": run["metric"], "value": run["score"]})
        if run["stderr"] is not None:
            metric_rows.append({"scorer": "(reported)", "metric": "stderr", "value": run["stderr"]})
    distribution = con.execute(
        "select s.value, s.score, count(*) as samples from eval_samples s "
        f"where s.run_id = (select r.run_id from eval_runs r where {where}) group by all "
        "order by s.score desc nulls last, s.value",
        params,
    ).df()
    others = [
        str(x[0])
        for x in con.execute(
            "select distinct s.scorer from eval_sample_scores s "
            f"where s.run_id = (select r.run_id from eval_runs r where {where}) order by 1",
            params,
        ).fetchall()
    ]
    total = int(distribution["samples"].sum()) if not distribution.empty else 0
    detail = RunDetail(
        run, pd.DataFrame(metric_rows, columns=["scorer", "metric", "value"]), distribution, total, others
    )
    return Scoped(detail, _marking(con, where, params))


def sample_page(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, run_id: str, page: int, page_size: int = 50
) -> Scoped[pd.DataFrame]:
    """One page of a run's samples (ordered by sample id and epoch), paged in SQL, with other scorers' values."""
    size = page_size if page_size in SAMPLE_PAGE_SIZES else 50
    vis, params = visible_sql(viewer, "eval_runs", "r")
    params["rid"] = run_id
    where = f"{vis} and r.run_id = $rid"
    df = con.execute(
        "with page as (select s.run_id, s.sample_id, s.epoch, s.score, s.value from eval_samples s "
        f"where s.run_id = (select r.run_id from eval_runs r where {where}) "
        "order by s.sample_id, s.epoch limit $lim offset $off) "
        "select p.sample_id, p.epoch, p.score, p.value, "
        "string_agg(o.scorer || ': ' || coalesce(o.value, ''), '; ' order by o.scorer) as other_scores "
        "from page p left join eval_sample_scores o on o.run_id = p.run_id and o.sample_id = p.sample_id "
        "and o.epoch = p.epoch group by all order by p.sample_id, p.epoch",
        {**params, "lim": size, "off": max(0, int(page)) * size},
    ).df()
    return Scoped(df, _marking(con, where, params))


def marking_of_runs(con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date) -> Marking:
    """The marking of every run the page draws on under these filters (for the page's top banner)."""
    where, params = eval_where(viewer, f, today)
    row = con.execute(f"select {marking_select_sql('r')} from eval_runs r where {where}", params).fetchone()
    assert row is not None
    return marking_from_row(*row)
