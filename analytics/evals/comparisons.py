"""Comparing evaluation results: several models on the benchmarks they share, and the UK and AU runs of the
same model, benchmark and task version.

Each comparison says whether a difference is real, not only how big it is, and says how it was judged:
- Paired only on the same (benchmark, task version, sample id, epoch): two task versions of a benchmark are
  different questions, so a sample id they share is not the same sample. Epochs are matched one to one and the
  differences averaged per sample, so a sample counts once however many epochs it was run for. With at least
  MIN_PAIRED_SAMPLES shared samples the test is paired (McNemar's exact test when every per-sample difference
  is -1, 0 or 1, else the sign-flip permutation test); otherwise a z-test from the runs' standard errors,
  labelled unpaired with the reason (task versions differ, no per-sample scores, too few shared samples).
- Each interval inverts its own test, so it excludes 0 exactly when the verdict says "real difference".
- Families are corrected: the model pairs compared on a page by Holm's method (family-wise error), the rows of
  the UK-AU agreement table by Benjamini-Hochberg (false discovery rate, for a screening list); each interval is
  drawn at the level the correction implies (`ci_level`), so it agrees with the adjusted verdict.
analytics.stats.eval_stats does the arithmetic. Reads build their WHERE with analytics.evals.queries.eval_where,
so the viewer's markings and the page's filters apply, and every result carries the marking of the runs behind
it; per-sample scores are read only for the visible runs chosen.
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
from analytics.evals.queries import (
    CI_HIGH,
    CI_LOW,
    LEAD_DEVELOPER_SQL,
    SCORED,
    UNIT_SQL,
    eval_where,
    runs_marking,
)
from analytics.filters import Filters
from analytics.stats import eval_stats
from analytics.wording import counted

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
class ModelChoice:
    model: str
    benchmarks: int  # benchmarks with a scored visible run of the model
    with_samples: int  # of which with per-sample scores (a comparison on them can be paired)


DEFAULT_COMPARED = 3


# garak's calibration files are stored as runs of a pseudo-model (analytics/ingest/garak.py, details.kind =
# 'calibration'): a baseline of scores across models, not a model one could pick and compare.
NOT_CALIBRATION = "coalesce(json_extract_string(r.details, '$.kind'), '') <> 'calibration'"


def model_choices(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> list[ModelChoice]:
    """Models to compare, those with per-sample scores on most benchmarks first (only they can be paired on
    shared samples; Epoch's public results report one score per model), then by how many benchmarks they cover.
    The page's default is the first DEFAULT_COMPARED of them."""
    where, params = eval_where(viewer, f, today)
    rows = con.execute(
        "select r.model, count(distinct r.benchmark) as n, "
        "count(distinct r.benchmark) filter (coalesce(r.n_samples, 0) > 0) as s "
        f"from eval_runs r where {where} and {SCORED} and {NOT_CALIBRATION} "
        "group by r.model order by s desc, n desc, r.model",
        params,
    ).fetchall()
    return [ModelChoice(str(m), int(n), int(k)) for m, n, k in rows]


@dataclass(frozen=True)
class Comparison:
    scores: pd.DataFrame  # benchmark, model, run_id, institute, source, score, stderr, ci_low, ci_high, n
    pairs: pd.DataFrame  # one row per pair of models on a benchmark: see _PAIR_COLUMNS
    single: list[str] = field(default_factory=list)  # benchmarks where only one of the models has a result


# One run per model and benchmark: prefer a run with sample-level data (it can be paired), then the latest.
CHOSEN_SQL = """
select * from (
    select r.run_id, r.model, __DEVELOPER__ as developer, __UNIT__ as unit, r.benchmark, r.institute, r.source,
        r.score, r.stderr,
        {ci_low} as ci_low, {ci_high} as ci_high, r.n_samples, r.eval_date, r.task_version,
        row_number() over (partition by r.model, r.benchmark
            order by coalesce(r.n_samples, 0) > 0 desc, r.eval_date desc nulls last, r.run_id desc) as pick
    from eval_runs r where {where} and {scored} and list_contains($models::varchar[], r.model)
) where pick = 1
""".replace("__DEVELOPER__", LEAD_DEVELOPER_SQL).replace("__UNIT__", UNIT_SQL)

# Every pair of chosen runs on a benchmark, in one pass over eval_samples: each chosen run's samples are
# gathered into one row per (benchmark, task version, sample, epoch) holding every model's score, so two runs
# meet only on the same task version, sample and epoch. For each pair of models the epoch differences are
# averaged per sample and the distinct per-sample differences counted: the shared-sample count, the mean
# difference, McNemar's discordant pairs (d = 1 and d = -1) and the sign-flip test all come from those counts.
# Grouping once is several times cheaper than grouping per run and joining runs pairwise. `{scores}` is a fixed
# list of `avg(...) filter (c.k = <int>)` built from model positions.
PAIR_DIFFS_SQL = """
with chosen as ({chosen}),
indexed as (
    select run_id, benchmark, task_version, list_position($models::varchar[], model) as k
    from chosen where coalesce(n_samples, 0) > 0
),
per_sample as (
    select c.benchmark, c.task_version, s.sample_id, s.epoch, list_value({scores}) as v
    from eval_samples s join indexed c on c.run_id = s.run_id
    where s.score is not null
    group by c.benchmark, c.task_version, s.sample_id, s.epoch
),
model_pairs as (select a.i, b.j from range(1, $n_models + 1) a(i), range(1, $n_models + 1) b(j) where a.i < b.j),
per_pair as (
    select p.benchmark, m.i, m.j, p.sample_id, avg(p.v[m.i] - p.v[m.j]) as d
    from per_sample p, model_pairs m
    where p.v[m.i] is not null and p.v[m.j] is not null
    group by p.benchmark, p.task_version, p.sample_id, m.i, m.j
)
select benchmark, i, j, round(d, 9) as d, count(*) as n
from per_pair
group by all
order by all
"""


def compare_models(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date, models: tuple[str, ...]
) -> Scoped[Comparison]:
    """Scores of 2–5 models on every benchmark where at least two of them have a visible result, with 95%
    intervals, and for each pair of models a test of whether the difference is real: paired (McNemar or
    sign-flip) over the samples both runs share on the same task version, else an unpaired z-test from the
    runs' standard errors. p-values are Holm-adjusted across every pair on the page, and each pair's interval
    is at the level that makes it agree with its adjusted verdict."""
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
    diffs: dict[tuple[str, str, str], list[tuple[float, int]]] = {}
    if len(picked) >= 2 and not scores.empty:
        score_list = ", ".join(f"avg(s.score) filter (c.k = {k})" for k in range(1, len(picked) + 1))
        rows = con.execute(
            PAIR_DIFFS_SQL.format(chosen=chosen_sql, scores=score_list), {**params, "n_models": len(picked)}
        ).fetchall()
        for bench, i, j, d, n in rows:
            key = (str(bench), picked[int(i) - 1], picked[int(j) - 1])
            diffs.setdefault(key, []).append((float(d), int(n)))

    by_key = {(str(r["benchmark"]), str(r["model"])): r for r in records(scores)}
    tests: list[_Test] = []
    for bench in shared:
        here = sorted(m for (b, m) in by_key if b == bench)
        for i, ma in enumerate(here):
            for mb in here[i + 1 :]:
                tests.append(
                    _pair_test(by_key[(bench, ma)], by_key[(bench, mb)], diffs.get((bench, ma, mb), []))
                )
    _adjust(tests, "holm")
    pairs = pd.DataFrame([_pair_row(t) for t in tests], columns=_PAIR_COLUMNS)

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
    "paired",
    "pairing",
    "n_paired",
    "diff",
    "ci_low",
    "ci_high",
    "ci_level",
    "p",
    "p_holm",
    "verdict",
]


@dataclass
class _Test:
    """One comparison of two runs: what can be tested, then (after `_adjust`) its adjusted result."""

    a: dict[str, Any]
    b: dict[str, Any]
    pairing: str  # says paired or unpaired, and why
    differences: list[tuple[float, int]]  # (per-sample difference, how many samples), paired tests only
    n_paired: int
    diff: float
    p: float | None = None
    p_adjusted: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    level: float | None = None
    test: str | None = None

    @property
    def paired(self) -> bool:
        return self.n_paired >= MIN_PAIRED_SAMPLES

    def run(self, alpha: float) -> None:
        """The test and its interval at `alpha` (the same p at any alpha; the interval follows alpha)."""
        if self.paired:
            res = eval_stats.paired_differences(
                [d for d, _ in self.differences], [k for _, k in self.differences], alpha
            )
            self.test, self.diff, self.p = res.test, res.diff, res.p_value
            self.ci_low, self.ci_high = res.ci_low, res.ci_high
        else:
            se_a, se_b = none_if_nan(self.a["stderr"]), none_if_nan(self.b["stderr"])
            if se_a is None or se_b is None:
                return
            self.test = eval_stats.TEST_Z
            self.diff, self.ci_low, self.ci_high, self.p = eval_stats.unpaired_z(
                float(self.a["score"]), float(se_a), float(self.b["score"]), float(se_b), alpha
            )
        self.level = 1 - alpha


def _pair_test(a: dict[str, Any], b: dict[str, Any], differences: list[tuple[float, int]]) -> _Test:
    n = sum(k for _, k in differences)
    t = _Test(a, b, _pairing(a, b, n), differences, n, float(a["score"]) - float(b["score"]))
    t.run(eval_stats.ALPHA)
    return t


def _pairing(a: dict[str, Any], b: dict[str, Any], n: int) -> str:
    """Whether a comparison is paired, in words: what an analyst needs to judge it."""
    if n >= MIN_PAIRED_SAMPLES:
        return f"paired on {counted(n, 'shared sample')}"
    if not (a.get("n_samples") or 0) or not (b.get("n_samples") or 0):
        return "unpaired: a run has no per-sample scores"
    va, vb = a.get("task_version"), b.get("task_version")
    if va != vb:
        return f"unpaired: task versions differ ({va or '?'} vs {vb or '?'}), samples not comparable"
    return f"unpaired: {counted(n, 'shared sample')} (fewer than {MIN_PAIRED_SAMPLES})"


def _adjust(tests: list[_Test], method: eval_stats.Adjustment) -> None:
    """Adjust the p-values of a family and redraw each interval at the level that agrees with its verdict."""
    tested = [t for t in tests if t.p is not None]
    adjusted, levels = eval_stats.adjusted_levels([float(t.p) for t in tested], method)  # type: ignore[arg-type]
    for t, p_adj, level in zip(tested, adjusted, levels, strict=True):
        t.p_adjusted = p_adj
        if level != eval_stats.ALPHA:
            t.run(level)


def _pair_row(t: _Test) -> dict[str, Any]:
    return {
        "benchmark": t.a["benchmark"],
        "model_a": t.a["model"],
        "model_b": t.b["model"],
        "score_a": float(t.a["score"]),
        "score_b": float(t.b["score"]),
        "test": t.test,
        "paired": t.paired,
        "pairing": t.pairing,
        "n_paired": t.n_paired,
        "diff": t.diff,
        "ci_low": t.ci_low,
        "ci_high": t.ci_high,
        "ci_level": t.level,
        "p": t.p,
        "p_holm": t.p_adjusted,
        "verdict": _verdict(t, str(t.a["model"]), str(t.b["model"])),
    }


def _verdict(t: _Test, a: str, b: str) -> str:
    if t.p_adjusted is None:
        if 0 < t.n_paired < MIN_PAIRED_SAMPLES:
            return f"too few shared samples ({t.n_paired}): cannot test"
        return "no interval for one of the runs: cannot test"
    if t.p_adjusted < eval_stats.ALPHA:
        return f"real difference: {a if t.diff > 0 else b} higher"
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
        r.n_samples, {ci_low} as ci_low, {ci_high} as ci_high,
        row_number() over (partition by r.model, r.benchmark, r.task_version, r.institute
            order by r.eval_date desc nulls last, r.run_id desc) as pick
    from eval_runs r where {where} and {scored} and r.institute in ('UK', 'AU')
)
select uk.model, uk.benchmark, uk.task_version,
    uk.run_id as uk_run, uk.score as uk_score, uk.stderr as uk_stderr, uk.ci_low as uk_lo, uk.ci_high as uk_hi,
    uk.n_samples as uk_n,
    au.run_id as au_run, au.score as au_score, au.stderr as au_stderr, au.ci_low as au_lo, au.ci_high as au_hi,
    au.n_samples as au_n
from latest uk join latest au
    on au.model = uk.model and au.benchmark = uk.benchmark
    and au.task_version is not distinct from uk.task_version
where uk.institute = 'UK' and au.institute = 'AU' and uk.pick = 1 and au.pick = 1
order by uk.benchmark, uk.model, uk.task_version
"""

# UK - AU per shared (sample, epoch) of each agreement row's two runs (same task version by construction),
# averaged per sample and counted per distinct difference. Only the visible run ids chosen above are read.
_AGREEMENT_DIFFS_SQL = """
with pairs as (select unnest($uk::varchar[]) as uk_run, unnest($au::varchar[]) as au_run),
per_sample as (
    select p.uk_run, u.sample_id, avg(u.score - a.score) as d
    from pairs p
    join eval_samples u on u.run_id = p.uk_run
    join eval_samples a on a.run_id = p.au_run and a.sample_id = u.sample_id and a.epoch = u.epoch
    where u.score is not null and a.score is not null
    group by p.uk_run, u.sample_id
)
select uk_run, round(d, 9) as d, count(*) as n from per_sample group by all order by all
"""

AGREEMENT_STATUSES: dict[str, str] = {
    "disagree": "the UK and AU scores differ after the Benjamini-Hochberg correction across this table: follow up",
    "agree": "no difference beyond what chance explains across this table",
    "no interval": "fewer than 10 shared samples and a run without a standard error: cannot judge",
}

AGREEMENT_COLUMNS = [
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
    "ci_low",
    "ci_high",
    "ci_level",
    "test",
    "paired",
    "pairing",
    "n_paired",
    "overlap",
    "p_value",
    "p_adjusted",
    "status",
    "uk_run",
    "au_run",
]


def institute_agreement(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[pd.DataFrame]:
    """Same model, benchmark and task version run by both UK and AU (latest run of each): both scores with 95%
    intervals, and a test of UK - AU: paired over the samples both runs share (McNemar or sign-flip) when there
    are at least MIN_PAIRED_SAMPLES, else an unpaired z-test. p-values are Benjamini-Hochberg-adjusted across
    the table (a screening list: the false discovery rate among the flagged rows stays at 5%), and each
    difference's interval is at the level that agrees with its adjusted verdict. Disagreements first."""
    where, params = eval_where(viewer, f, today)
    df = con.execute(
        _AGREEMENT_SQL.format(where=where, scored=SCORED, ci_low=CI_LOW, ci_high=CI_HIGH), params
    ).df()
    rows = records(df)
    diffs: dict[str, list[tuple[float, int]]] = {}
    with_samples = [r for r in rows if (r["uk_n"] or 0) > 0 and (r["au_n"] or 0) > 0]
    if with_samples:
        found = con.execute(
            _AGREEMENT_DIFFS_SQL,
            {"uk": [r["uk_run"] for r in with_samples], "au": [r["au_run"] for r in with_samples]},
        ).fetchall()
        for run, d, n in found:
            diffs.setdefault(str(run), []).append((float(d), int(n)))
    tests = []
    for r in rows:
        uk = {"score": r["uk_score"], "stderr": r["uk_stderr"], "n_samples": r["uk_n"], "task_version": 0}
        au = {"score": r["au_score"], "stderr": r["au_stderr"], "n_samples": r["au_n"], "task_version": 0}
        tests.append(_pair_test(uk, au, diffs.get(str(r["uk_run"]), [])))
    _adjust(tests, "fdr_bh")
    out = []
    for r, t in zip(rows, tests, strict=True):
        uk_lo, uk_hi, au_lo, au_hi = r["uk_lo"], r["uk_hi"], r["au_lo"], r["au_hi"]
        overlap = (
            eval_stats.intervals_overlap(uk_lo, uk_hi, au_lo, au_hi)
            if None not in (uk_lo, uk_hi, au_lo, au_hi)
            else None
        )
        status = "no interval"
        if t.p_adjusted is not None:
            status = "disagree" if t.p_adjusted < eval_stats.ALPHA else "agree"
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
                "difference": t.diff,
                "ci_low": t.ci_low,
                "ci_high": t.ci_high,
                "ci_level": t.level,
                "test": t.test,
                "paired": t.paired,
                "pairing": t.pairing,
                "n_paired": t.n_paired,
                "overlap": overlap,
                "p_value": t.p,
                "p_adjusted": t.p_adjusted,
                "status": status,
                "uk_run": r["uk_run"],
                "au_run": r["au_run"],
            }
        )
    result = pd.DataFrame(out, columns=AGREEMENT_COLUMNS)
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
