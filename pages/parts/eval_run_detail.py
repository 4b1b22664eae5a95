"""The evaluations page's Run detail tab: one run's summary, spec and metrics, and its samples paged in SQL.

A part of its own because the run and sample drill-down (an Inspect-viewer-like reading of samples) is the
largest piece of the page and grows separately from the capability and comparison tabs."""

import streamlit as st

from analytics import session
from analytics.access.markings import Marking
from analytics.evals import charts as eval_charts
from analytics.evals import runs as eval_runs
from analytics.evals.runs import RunDetail
from analytics.filters import Filters
from analytics.sources import source_credits
from pages.ui import chart, empty_state, marking_banner

SCORE = st.column_config.NumberColumn(format="%.3f")

RUN_SPEC_FIELDS = (
    "run_id",
    "model",
    "model_developer",
    "model_release_date",
    "benchmark",
    "task_version",
    "eval_date",
    "metric",
    "institute",
    "source",
    "import_batch",
)


def run_tab(f: Filters, benchmark: str) -> None:
    runs = session.query(eval_runs.runs_of_benchmark, f, session.today(), benchmark)
    marking_banner(runs.marking, f"{len(runs.data):,} runs of this benchmark")
    run_ids = runs.data["run_id"].tolist()
    if not run_ids:
        empty_state("No runs of this benchmark under these filters.")
        return
    labels = dict(zip(runs.data["run_id"], runs.data["label"], strict=True))
    if st.session_state.get("ev_run") not in labels:
        st.session_state["ev_run"] = run_ids[0]
    run_id = st.selectbox("Run", run_ids, key="ev_run", format_func=lambda r: labels.get(r, r))
    detail = session.query(eval_runs.run_detail, run_id)
    if detail is None:
        empty_state("No such run.")
        return
    marking_banner(detail.marking, "this run")
    _run_summary(detail.data, detail.marking)
    run = detail.data.run
    if detail.data.samples_total:
        st.markdown("**Per-sample scores**")
        chart(
            eval_charts.distribution_chart(detail.data.distribution),
            key="ev_distribution",
            marking=detail.marking,
        )
        _sample_pages(run_id, detail.data)
    elif run["status"] != "success":
        st.caption("This run did not finish successfully, so it has no scores and counts nowhere.")
    else:
        st.caption("This run has no per-sample scores (public results report one score per model).")


def _run_summary(detail: RunDetail, marking: Marking) -> None:
    """Headline numbers, the run's spec and its metrics side by side."""
    run = detail.run
    score_col, stderr_col, samples_col, status_col = st.columns(4)
    score_col.metric("Score", "–" if run["score"] is None else f"{run['score']:.3f}")
    stderr_col.metric("Std. error", "–" if run["stderr"] is None else f"{run['stderr']:.3f}")
    samples_col.metric("Samples", f"{detail.samples_total:,}")
    status_col.metric("Status", run["status"])
    spec = {k: run[k] for k in RUN_SPEC_FIELDS}
    left, right = st.columns([1, 1])
    left.markdown("**Spec**")
    left.dataframe(
        [{"field": k, "value": "" if v is None else str(v)} for k, v in spec.items()],
        hide_index=True,
        width="stretch",
        height=35 * (len(spec) + 1) + 3,
    )
    right.markdown("**Metrics**")
    right.dataframe(detail.metrics, hide_index=True, width="stretch")
    if run["details"]:
        with right.expander("Everything the import recorded"):
            st.json(run["details"], expanded=False)
    if credits := source_credits(marking):
        st.caption(f"Source: {'; '.join(credits)}.")


def _sample_pages(run_id: str, detail: RunDetail) -> None:
    """One page of the run's samples, paged in SQL; another run starts on its first page."""
    page_col, size_col = st.columns([1, 1])
    size = size_col.selectbox("Rows per page", eval_runs.SAMPLE_PAGE_SIZES, key="ev_page_size")
    pages = max(1, -(-detail.samples_total // size))
    if st.session_state.get("ev_page_of") != run_id or st.session_state.get("ev_page", 1) > pages:
        st.session_state["ev_page"] = 1
    st.session_state["ev_page_of"] = run_id
    page = page_col.number_input(f"Page (of {pages:,})", 1, pages, key="ev_page") - 1
    samples = session.query(eval_runs.sample_page, run_id, int(page), int(size))
    columns = ["sample_id", "epoch", "score", "value"]
    st.dataframe(
        samples.data,
        hide_index=True,
        width="stretch",
        column_order=[*columns, "other_scores"] if detail.other_scorers else columns,
        column_config={"score": SCORE},
    )
    if detail.other_scorers:
        st.caption(f"Other scorers in this log: {len(detail.other_scorers)} (see other_scores).")
