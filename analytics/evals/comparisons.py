"""Comparing evaluation results: several models on the benchmarks they share, and the UK and AU runs of the
same model, benchmark and task version.

Each comparison says whether a difference is real, not only how big it is: paired tests (McNemar's exact test
for right/wrong scores, a paired bootstrap otherwise) over the samples both runs share, else a z-test from the
runs' standard errors, with Holm-adjusted p-values (analytics.stats.eval_stats does the arithmetic). Reads build
their WHERE with analytics.evals.queries.eval_where, so the viewer's markings and the page's filters apply, and
every result carries the marking of the runs behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from analytics.access.markings import Scoped
from analytics.access.viewer import Viewer
from analytics.evals.queries import CI_HIGH, CI_LOW, SCORED, eval_where, runs_marking
from analytics.filters import Filters
from analytics.stats import eval_stats

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True

MAX_COMPARED_MODELS = 5
MIN_PAIRED_SAMPLES = 10


# -- models compared -----------------------------------------------------------------------------------------


def model_options(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> list[tuple[str, int]]:
    """Models with scored visible runs and on how many benchmarks, most-evaluated first."""
    where, params = eval_where(viewer, f, today)
    rows = con.execute(
        f"select r.model, count(distinct r.benchmark) as n from eval_runs r where {where} and {SCORED} "
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
CHOSEN_SQL = """
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
PAIR_DIFFS_SQL = """
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
    chosen_sql = CHOSEN_SQL.format(where=where, scored=SCORED, ci_low=CI_LOW, ci_high=CI_HIGH)
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
            PAIR_DIFFS_SQL.format(chosen=chosen_sql, scores=score_list), {**params, "n_models": len(picked)}
        ).fetchall()
        for bench, i, j, d, n, is_binary in rows:
            key = (str(bench), picked[int(i) - 1], picked[int(j) - 1])
            diffs.setdefault(key, []).append((float(d), int(n), bool(is_binary)))

    by_key = {(str(r["benchmark"]), str(r["model"])): r for r in records(scores)}
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

    mwhere = f"{where} and {SCORED} and r.run_id = any($runs)"
    mparams = {k: v for k, v in params.items() if k != "models"}
    marking = runs_marking(con, mwhere, {**mparams, "runs": scores["run_id"].tolist()})
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
    se_a, se_b = none_if_nan(a["stderr"]), none_if_nan(b["stderr"])
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


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts with missing values as None (pandas gives NaN/NaT/NA)."""
    return [{str(k): none_if_nan(v) for k, v in row.items()} for row in df.to_dict("records")]


def none_if_nan(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, float) and math.isnan(x):
        return None
    if x is pd.NaT:
        return None
    return x


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
        _AGREEMENT_SQL.format(where=where, scored=SCORED, ci_low=CI_LOW, ci_high=CI_HIGH), params
    ).df()
    out = []
    for r in records(df):
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
    marking = runs_marking(con, f"{where} and r.run_id = any($runs)", {**params, "runs": runs})
    return Scoped(result, marking)
