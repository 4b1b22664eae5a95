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


# Filters on a run's samples by their value as logged. "no score" is a sample the headline scorer did not score.
NO_SCORE = "no score"

# What a sample row of the list shows of its texts: enough to recognise it; the sample opens in full.
PREVIEW_CHARS = 160


def sample_page(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    run_id: str,
    page: int,
    page_size: int = 50,
    value: str | None = None,
) -> Scoped[pd.DataFrame]:
    """One page of a run's samples (ordered by sample id and epoch), paged in SQL: score, the scorer's answer,
    the start of the input, target and output, whether it has a transcript, and other scorers' values.
    `value` keeps only the samples whose headline score was logged as that value (NO_SCORE: unscored ones).
    Only the previews leave the database: a long transcript is never read for the list."""
    size = page_size if page_size in SAMPLE_PAGE_SIZES else 50
    vis, params = visible_sql(viewer, "eval_runs", "r")
    params["rid"] = run_id
    where = f"{vis} and r.run_id = $rid"
    filt = ""
    if value == NO_SCORE:
        filt = "and s.value is null"
    elif value is not None:
        filt = "and s.value = $val"
        params["val"] = value
    # The page's rows are found on the keys alone, then only their text is read (by rowid): reading the text of
    # every sample of a 10,000-sample run to keep 50 doubled the cost.
    df = con.execute(
        "with keys as (select s.rowid as row_no, s.sample_id, s.epoch from eval_samples s "
        f"where s.run_id = (select r.run_id from eval_runs r where {where}) {filt} "
        "order by s.sample_id, s.epoch limit $lim offset $off), "
        "page as (select t.run_id, t.sample_id, t.epoch, t.score, t.value, t.answer, "
        # A chat input (a JSON array of messages) is previewed by its last message's text.
        "left(case when t.input like '[{%' then coalesce(try(json_extract_string(t.input, '$[#-1].content')), "
        "t.input) else t.input end, $pre) as input, "
        "left(t.target, $pre) as target, left(t.output, $pre) as output, "
        "t.transcript is not null as has_transcript from keys k join eval_samples t on t.rowid = k.row_no) "
        "select p.sample_id, p.epoch, p.score, p.value, p.answer, p.input, p.target, p.output, "
        "p.has_transcript, "
        "string_agg(o.scorer || ': ' || coalesce(o.value, ''), '; ' order by o.scorer) as other_scores "
        "from page p left join eval_sample_scores o on o.run_id = p.run_id and o.sample_id = p.sample_id "
        "and o.epoch = p.epoch group by all order by p.sample_id, p.epoch",
        {**params, "lim": size, "off": max(0, int(page)) * size, "pre": PREVIEW_CHARS},
    ).df()
    params.pop("val", None)
    return Scoped(df, runs_marking(con, where, params))


def value_counts(distribution: pd.DataFrame) -> dict[str | None, int]:
    """Samples per logged value (None: no score) from run_detail's distribution, for the score filter."""
    out: dict[str | None, int] = {}
    for v, n in zip(distribution["value"], distribution["samples"], strict=True):
        key = None if v is None or (isinstance(v, float) and v != v) else str(v)
        out[key] = out.get(key, 0) + int(n)
    return out


@dataclass(frozen=True)
class SampleDetail:
    """One sample of a run, everything stored of it."""

    run_id: str
    sample_id: str
    epoch: int
    score: float | None
    value: str | None
    answer: str | None
    input: str | None
    target: str | None
    output: str | None
    explanation: str | None
    metadata: dict[str, Any] | None
    transcript: list[dict[str, Any]] | None  # the messages, in order
    other_scores: pd.DataFrame  # scorer, score, value, answer, explanation


def sample_detail(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, run_id: str, sample_id: str, epoch: int
) -> Scoped[SampleDetail] | None:
    """One sample in full (its transcript too) and its other scorers' scores; None if the viewer may not see the
    run or there is no such sample (indistinguishable)."""
    vis, params = visible_sql(viewer, "eval_runs", "r")
    params["rid"] = run_id
    where = f"{vis} and r.run_id = $rid"
    key = {**params, "sid": sample_id, "ep": int(epoch)}
    row = con.execute(
        "select s.score, s.value, s.answer, s.input, s.target, s.output, s.explanation, s.metadata::varchar, "
        "s.transcript from eval_samples s "
        f"where s.run_id = (select r.run_id from eval_runs r where {where}) "
        "and s.sample_id = $sid and s.epoch = $ep limit 1",
        key,
    ).fetchone()
    if row is None:
        return None
    score, value, answer, text_in, target, output, explanation, metadata, transcript = row
    others = con.execute(
        "select o.scorer, o.score, o.value, o.answer, o.explanation from eval_sample_scores o "
        f"where o.run_id = (select r.run_id from eval_runs r where {where}) "
        "and o.sample_id = $sid and o.epoch = $ep order by o.scorer",
        key,
    ).df()
    detail = SampleDetail(
        run_id,
        sample_id,
        int(epoch),
        score,
        value,
        answer,
        text_in,
        target,
        output,
        explanation,
        json.loads(metadata) if metadata else None,
        json.loads(transcript) if transcript else None,
        others,
    )
    return Scoped(detail, runs_marking(con, where, params))


def input_messages(text: str | None) -> list[dict[str, Any]] | None:
    """A chat input's messages (the importer stores them as a JSON array of {role, content, ...}); None for a
    plain prompt."""
    if not text or not text.startswith("["):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if isinstance(parsed, list) and parsed and all(isinstance(m, dict) and "role" in m for m in parsed):
        return parsed
    return None


def message_text(message: dict[str, Any]) -> str:
    """A message's content as text: Inspect content is a string or a list of parts (text, reasoning, images...);
    parts that are not text are named, not shown."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):  # not Inspect's shape: shown as it was stored
        return "" if content is None else json.dumps(content, ensure_ascii=False)
    parts = []
    for part in content:
        if isinstance(part, dict):
            kind = part.get("type")
            if kind == "text":
                parts.append(str(part.get("text", "")))
            elif kind == "reasoning":
                parts.append(f"[reasoning] {part.get('reasoning', '')}")
            else:
                parts.append(f"[{kind}]")
    return "\n".join(parts)


def tool_calls_text(message: dict[str, Any]) -> list[str]:
    """A message's tool calls as `function(arguments as JSON)`, in order."""
    out = []
    for call in message.get("tool_calls") or []:
        if isinstance(call, dict):
            args = json.dumps(call.get("arguments", {}), ensure_ascii=False, sort_keys=True)
            out.append(f"{call.get('function', '?')}({args})")
    return out


# -- the same sample elsewhere ----------------------------------------------------------------------------------


def same_sample_across_runs(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, run_id: str, sample_id: str, epoch: int
) -> Scoped[pd.DataFrame]:
    """The same sample id and epoch in every visible run of the same benchmark and task version (this run
    first, then by model and institute): who scored what and answered what, side by side."""
    vis, params = visible_sql(viewer, "eval_runs", "r")
    params["rid"] = run_id
    this = con.execute(
        f"select r.benchmark, coalesce(r.task_version, '') from eval_runs r where {vis} and r.run_id = $rid",
        params,
    ).fetchone()
    # An invisible or unknown run matches nothing (an empty result, marked like no rows).
    params.update(bench=this[0] if this else None, ver=this[1] if this else None)
    where = f"{vis} and r.status = 'success' and r.benchmark = $bench and coalesce(r.task_version, '') = $ver"
    df = con.execute(
        "select r.run_id, r.model, r.institute, r.eval_date, s.score, s.value, s.answer, "
        "left(s.output, $pre) as output, s.explanation "
        f"from eval_runs r join eval_samples s on s.run_id = r.run_id where {where} "
        "and s.sample_id = $sid and s.epoch = $ep "
        "order by r.run_id <> $rid, r.model, r.institute, r.eval_date desc nulls last, r.run_id",
        {**params, "sid": sample_id, "ep": int(epoch), "pre": 2000},
    ).df()
    # Marked by the runs behind the rows (selected above through the markings), without a second pass over
    # eval_samples.
    vis_only = {k: v for k, v in params.items() if k not in ("rid", "bench", "ver")}
    shown = f"{vis} and r.run_id = any($shown)"
    return Scoped(df, runs_marking(con, shown, {**vis_only, "shown": df["run_id"].tolist()}))


@dataclass(frozen=True)
class Disagreement:
    """Where the UK and AU runs of this run's model on the same benchmark and task version disagree."""

    uk_run: str | None
    au_run: str | None
    shared: int  # samples both runs scored
    disagreeing: (
        int  # samples of both runs scored differently (or scored by one only): all, not just the listed
    )
    samples: pd.DataFrame  # sample_id, epoch, uk_value, au_value, uk_answer, au_answer


def uk_au_disagreements(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, run_id: str, limit: int = 200
) -> Scoped[Disagreement] | None:
    """The samples the UK and AU runs of this run's model, benchmark and task version scored differently (the
    newest visible run of each institute; this run for its own institute). None when this run is not visible
    or is not a UK or AU run; a Disagreement without the other run when the viewer sees none."""
    vis, params = visible_sql(viewer, "eval_runs", "r")  # every query below binds exactly what it names
    this = con.execute(
        f"select r.institute, r.model, r.benchmark, coalesce(r.task_version, '') from eval_runs r "
        f"where {vis} and r.run_id = $rid",
        {**params, "rid": run_id},
    ).fetchone()
    if this is None or this[0] not in ("UK", "AU"):
        return None
    institute, model, benchmark, version = this
    other_inst = "AU" if institute == "UK" else "UK"
    other = con.execute(
        f"select r.run_id from eval_runs r where {vis} and r.institute = $inst and r.model = $model "
        "and r.benchmark = $bench and coalesce(r.task_version, '') = $ver and r.status = 'success' "
        "and coalesce(r.n_samples, 0) > 0 order by r.eval_date desc nulls last, r.run_id desc limit 1",
        {**params, "inst": other_inst, "model": model, "bench": benchmark, "ver": version},
    ).fetchone()
    runs = {institute: run_id, other_inst: other[0] if other else None}
    where = f"{vis} and r.run_id = any($pair)"
    pair = [r for r in runs.values() if r is not None]
    marking = runs_marking(con, where, {**params, "pair": pair})
    if other is None:
        empty = pd.DataFrame(columns=["sample_id", "epoch", "uk_value", "au_value", "uk_answer", "au_answer"])
        return Scoped(Disagreement(runs["UK"], runs["AU"], 0, 0, empty), marking)
    key = {**params, "uk": runs["UK"], "au": runs["AU"]}
    paired = (
        "select u.sample_id, u.epoch, u.value as uk_value, a.value as au_value, u.answer as uk_answer, "
        "a.answer as au_answer, u.score as uk_score, a.score as au_score from eval_samples u "
        "join eval_samples a on a.sample_id = u.sample_id and a.epoch = u.epoch "
        f"where u.run_id = (select r.run_id from eval_runs r where {vis} and r.run_id = $uk) "
        f"and a.run_id = (select r.run_id from eval_runs r where {vis} and r.run_id = $au)"
    )
    # One pass over the pair: the counts and the first `limit` differing samples together.
    rows = con.execute(
        f"with p as materialized ({paired}), "
        "c as (select count(*) filter (p.uk_score is not null and p.au_score is not null) as shared, "
        "count(*) filter (p.uk_score is distinct from p.au_score) as disagreeing from p), "
        "d as (select sample_id, epoch, uk_value, au_value, uk_answer, au_answer from p "
        "where p.uk_score is distinct from p.au_score order by sample_id, epoch limit $lim) "
        "select c.shared, c.disagreeing, d.* from c left join d on true order by d.sample_id, d.epoch",
        {**key, "lim": int(limit)},
    ).df()
    counts = (rows["shared"].iloc[0], rows["disagreeing"].iloc[0]) if not rows.empty else None
    df = rows.drop(columns=["shared", "disagreeing"]).dropna(subset=["sample_id"]).reset_index(drop=True)
    if not df.empty:
        df["epoch"] = df["epoch"].astype(int)
    shared, disagreeing = (int(counts[0]), int(counts[1])) if counts else (0, 0)
    detail = Disagreement(runs["UK"], runs["AU"], shared, disagreeing, df)
    return Scoped(detail, marking)
