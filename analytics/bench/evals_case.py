"""Benchmark cases for the Evaluations page (see analytics.bench.harness for how cases are run).

- `evaluations.compare`: the comparison tab's recompute for five models: choose one run per model and
  benchmark, then for every pair on every shared benchmark the paired statistics over eval_samples (10M rows
  at the 1M-incident size), McNemar or bootstrap, Holm, and the comparison figure (built, made inert and
  serialised as st.plotly_chart would). Baseline: the same answer computed in pandas after
  loading runs and samples (what a page without DuckDB aggregation would do). Raw: the one pass over eval_samples that yields every pair's differences.
- `evaluations.capability`: the capability chart's query for the busiest benchmark.
- `evaluations.import_inspect_10k`: importing a real 10,000-sample Inspect `.eval` log into a store, made once
  by running a task against the offline model (analytics.bench.offline_model; Inspect's own writer, so the file
  is what the institutes produce) and kept in the temp folder; each timed run imports it into a store the
  previous copy was removed from (a second import of the same log would be the no-op path).
- `evaluations.sample_list` / `evaluations.sample_open`: the Run detail tab's sample drill-down on a
  10,000-sample run with prompts, outputs and agent transcripts, added to the store's 10M samples: opening the
  run's sample list (targets 500 ms) and one sample (200 ms), issue 19.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from analytics.bench.harness import BenchContext, case
from analytics.charts import inert_figure
from analytics.evals import charts as eval_charts
from analytics.evals import comparisons, runs
from analytics.evals import queries as evals
from analytics.filters import Filters
from analytics.stats import eval_stats
from analytics.store.database import Store

_ALL = Filters()
_COMPARED = 5
_IMPORT_SAMPLES = 10_000


_MODELS: dict[str, tuple[str, ...]] = {}


def _picked(ctx: BenchContext) -> tuple[str, ...]:
    """The five models with results on the most benchmarks (fixed per store, so every run compares the same)."""
    key = str(ctx.store.path)
    if key not in _MODELS:
        options = comparisons.model_options(ctx.store.cursor(), ctx.viewer, _ALL, ctx.today)
        _MODELS[key] = tuple(m for m, _ in options[:_COMPARED])
    return _MODELS[key]


def _pandas_compare(ctx: BenchContext) -> Any:
    """The naive page: load runs and every sample into pandas, apply markings there, pair and count."""
    con = ctx.store.cursor()
    runs = con.execute(
        "select run_id, model, benchmark, institute, tlp, releasable_to, named_recipients, score, stderr, "
        "n_samples, eval_date, status from eval_runs"
    ).df()
    v = ctx.viewer
    visible = (
        runs["releasable_to"].map(lambda r: v.institute in list(r))
        & ((runs["tlp"] != "RED") | runs["named_recipients"].map(lambda r: v.email in list(r)))
        & ((runs["tlp"] != "AMBER+STRICT") | (runs["institute"] == v.institute))
    )
    models = list(_picked(ctx))
    runs = runs[visible & runs["model"].isin(models) & (runs["status"] == "success") & runs["score"].notna()]
    runs = runs.assign(has=runs["n_samples"].fillna(0) > 0).sort_values(
        ["has", "eval_date", "run_id"], ascending=[False, False, False]
    )
    chosen = runs.drop_duplicates(["model", "benchmark"])
    samples = con.execute("select run_id, sample_id, score from eval_samples").df()
    samples = samples[samples["run_id"].isin(chosen["run_id"]) & samples["score"].notna()]
    per_sample = samples.groupby(["run_id", "sample_id"], as_index=False)["score"].mean()
    out = []
    for bench, group in chosen.groupby("benchmark"):
        rows = group.sort_values("model").to_dict("records")
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                sa = per_sample[per_sample["run_id"] == a["run_id"]]
                sb = per_sample[per_sample["run_id"] == b["run_id"]]
                m = sa.merge(sb, on="sample_id", suffixes=("_a", "_b"))
                if m.empty:
                    continue
                b10 = int(((m["score_a"] == 1) & (m["score_b"] == 0)).sum())
                b01 = int(((m["score_a"] == 0) & (m["score_b"] == 1)).sum())
                if np.isin(m[["score_a", "score_b"]].to_numpy(), [0.0, 1.0]).all():
                    out.append((bench, eval_stats.paired_binary(len(m), b10, b01)))
                else:
                    out.append((bench, eval_stats.paired_bootstrap_differences(m["score_a"] - m["score_b"])))
    return out


def _raw_compare(ctx: BenchContext) -> Any:
    where, params = evals.eval_where(ctx.viewer, _ALL, ctx.today)
    models = sorted(_picked(ctx))
    params.update(models=models, n_models=len(models))
    chosen = comparisons.CHOSEN_SQL.format(
        where=where, scored=evals.SCORED, ci_low=evals.CI_LOW, ci_high=evals.CI_HIGH
    )
    scores = ", ".join(f"avg(s.score) filter (c.k = {k})" for k in range(1, len(models) + 1))
    sql = comparisons.PAIR_DIFFS_SQL.format(chosen=chosen, scores=scores)
    return ctx.store.cursor().execute(sql, params).fetchall()


@case("evaluations.compare", pandas=_pandas_compare, raw=_raw_compare)
def evaluations_compare(ctx: BenchContext) -> Any:
    models = _picked(ctx)
    comparison = comparisons.compare_models(ctx.store.cursor(), ctx.viewer, _ALL, ctx.today, models)
    figure = eval_charts.comparison_chart(comparison.data.scores, list(models))
    return comparison, inert_figure(figure).to_json()


@case("evaluations.capability")
def evaluations_capability(ctx: BenchContext) -> Any:
    con = ctx.store.cursor()
    top = evals.benchmark_summary(con, ctx.viewer, _ALL, ctx.today).data["benchmark"].iloc[0]
    return evals.capability_over_time(con, ctx.viewer, _ALL, ctx.today, str(top))


# -- Inspect import of a 10k-sample log ----------------------------------------------------------------------


def make_inspect_log(folder: Path, samples: int = _IMPORT_SAMPLES) -> Path:
    """Run a `samples`-sample task against an offline model and return the `.eval` log Inspect wrote."""
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import match
    from inspect_ai.solver import generate

    from analytics.bench.offline_model import PROVIDER  # importing it registers the offline provider

    dataset = [
        Sample(input=f"question {i}", target="4" if i % 3 else "5", id=f"s{i:05d}") for i in range(samples)
    ]
    [log] = eval(
        Task(dataset=dataset, solver=generate(), scorer=match(), name="bench_import"),
        model=f"{PROVIDER}/model",
        model_args={"fallback": "4"},
        log_dir=str(folder),
        display="none",
        max_samples=500,
        max_connections=500,
    )
    return Path(log.location)


# Making the log runs 10,000 samples through Inspect (minutes of CPU), so it is kept between bench runs in the
# system temp folder; the store it is imported into is made fresh in the run's own workdir.
LOG_CACHE = Path(tempfile.gettempdir()) / "threat-bench-inspect-10k"


@functools.cache
def _import_fixture(workdir: str) -> tuple[Path, Store]:
    existing = sorted(LOG_CACHE.glob("*.eval")) if LOG_CACHE.exists() else []
    log = existing[0] if existing else make_inspect_log(LOG_CACHE)
    db = Path(workdir) / "inspect-import.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    return log, Store(db)


@case("evaluations.import_inspect_10k", runs=3)
def evaluations_import_inspect_10k(ctx: BenchContext) -> Any:
    from analytics.ingest.inspect_logs import import_inspect

    log, store = _import_fixture(str(ctx.workdir))
    with store.transaction() as con:  # start from an empty store each time (a re-import would be a no-op)
        con.execute("delete from eval_samples")
        con.execute("delete from eval_sample_scores")
        con.execute("delete from eval_runs")
    report = import_inspect(store, log, actor="bench", institute="UK", tlp=None, releasable=None)
    assert report.added == 1
    return report


# -- the sample drill-down: a 10,000-sample run with text among the store's samples ---------------------------

CONTENT_RUNS = {"UK": "bench-content-uk", "AU": "bench-content-au"}
_CONTENT_SAMPLES = 10_000
_OPENED = "s05000"


def _content_run(ctx: BenchContext) -> str:
    """Once per store: a UK and an AU run of one model on SWE-bench Verified (an agentic benchmark), 10,000
    samples each with the demo's prompts, outputs and transcripts, added after the store's 10M samples (so they
    are read from among them, as an imported log's would be). Returns the UK run's id."""
    con = ctx.store.cursor()
    have = con.execute("select count(*) from eval_runs where run_id = ?", [CONTENT_RUNS["UK"]]).fetchone()
    if not have or not have[0]:
        from analytics.demo.generator import insert_samples_with_text

        with ctx.store.transaction() as tx:
            for institute, run_id in CONTENT_RUNS.items():
                tx.execute(
                    "insert into eval_runs (run_id, institute, model, benchmark, task_version, eval_date, "
                    "metric, score, n_samples, status, source, tlp, releasable_to) values "
                    "(?, ?, 'Bench-Content-1', 'SWE-bench Verified', '1', date '2026-11-01', 'accuracy', 0.5, "
                    "?, 'success', 'institute', 'GREEN', ['AU', 'UK'])",
                    [run_id, institute, _CONTENT_SAMPLES],
                )
                scored = (
                    "select $rid as run_id, 'SWE-bench Verified' as benchmark, "
                    "'s' || lpad(k::varchar, 5, '0') as sample_id, 1 as epoch, "
                    "case when hash($rid, k) % 3 = 0 then 1.0 else 0.0 end as score, "
                    "case when hash($rid, k) % 3 = 0 then 'C' else 'I' end as value from range($n) t(k)"
                )
                insert_samples_with_text(tx, scored, {"rid": run_id, "n": _CONTENT_SAMPLES}, seed=11)
    return CONTENT_RUNS["UK"]


@case("evaluations.sample_list")
def evaluations_sample_list(ctx: BenchContext) -> Any:
    """Opening a 10,000-sample run's samples as the Run detail tab does: the run with its score distribution,
    the first page of the list (previews of the text, never the transcripts), the page filtered to correct
    samples, and the UK–AU disagreements."""
    run_id = _content_run(ctx)
    con = ctx.store.cursor()
    detail = runs.run_detail(con, ctx.viewer, run_id)
    assert detail is not None and detail.data.samples_total == _CONTENT_SAMPLES
    page = runs.sample_page(con, ctx.viewer, run_id, 0, 50)
    correct = runs.sample_page(con, ctx.viewer, run_id, 0, 50, value="C")
    disagree = runs.uk_au_disagreements(con, ctx.viewer, run_id)
    assert len(page.data) == 50 and disagree is not None and disagree.data.disagreeing > 0
    return detail, page, correct, disagree


@case("evaluations.sample_open")
def evaluations_sample_open(ctx: BenchContext) -> Any:
    """Opening one sample of that run: everything stored of it (its transcript decompressed and parsed) and the
    same sample in the other runs of the benchmark."""
    run_id = _content_run(ctx)
    con = ctx.store.cursor()
    sample = runs.sample_detail(con, ctx.viewer, run_id, _OPENED, 1)
    assert sample is not None and sample.data.transcript
    return sample, runs.same_sample_across_runs(con, ctx.viewer, run_id, _OPENED, 1)
