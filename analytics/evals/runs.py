"""One benchmark's runs and one run in detail: its spec, metrics, per-sample score distribution and a page of
samples.

eval_samples and eval_sample_scores carry no markings of their own: they are read only through the run ids of
visible eval_runs, and a run id the viewer may not see behaves exactly like one that does not exist (None, not
an error). Samples are paged in SQL, never loaded whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from analytics.access.markings import Scoped, visible_sql
from analytics.access.viewer import Viewer
from analytics.evals.queries import eval_where, runs_marking
from analytics.filters import Filters

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True

SAMPLE_PAGE_SIZES: tuple[int, ...] = (25, 50, 100, 200)


# -- runs and one run -----------------------------------------------------------------------------------------------


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
    return Scoped(df, runs_marking(con, where, params))


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
    return Scoped(detail, runs_marking(con, where, params))


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
    return Scoped(df, runs_marking(con, where, params))
