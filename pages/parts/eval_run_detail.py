"""The evaluations page's Run detail tab: one run's summary, spec and metrics, and its samples read as Inspect's
log viewer reads them: a paged list filtered by score, one sample open beside the list (input, target, output or
transcript, every score with its explanation, metadata, the same sample in other runs), and the samples the UK
and AU runs of the model disagree on, side by side.

A part of its own because the run and sample drill-down is the largest piece of the page and grows separately
from the capability and comparison tabs. Every read goes through analytics.evals.runs with the viewer's markings
applied in SQL, and each shows its own marking. Stored text (prompts, answers, tool output, metadata) is model
and attacker controlled: it is shown only through st.code, st.text, st.json and dataframes, never as markdown or
HTML."""

from typing import Any

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access.markings import Marking
from analytics.evals import charts as eval_charts
from analytics.evals import runs as eval_runs
from analytics.evals.runs import RunDetail, SampleDetail
from analytics.filters import Filters
from analytics.sources import source_credits
from analytics.wording import counted
from pages.ui import chart, empty_state, marking_banner

SCORE = st.column_config.NumberColumn(format="%.3f")
MISSING = "—"

# The sample list's columns, as the analyst reads them (Inspect's viewer: Sample, Epoch, Input, Target, Answer,
# Score).
SAMPLE_COLUMNS: dict[str, str] = {
    "sample_id": "Sample",
    "epoch": "Epoch",
    "score": "Score",
    "value": "Value",
    "answer": "Answer",
    "input": "Input",
    "target": "Target",
    "output": "Output",
    "has_transcript": "Transcript",
    "other_scores": "Other scorers",
}

# Inspect's letter values, named in the score filter.
VALUE_NAMES = {"C": "correct", "I": "incorrect", "P": "partial", "N": "no answer"}

# Roles Inspect gives messages; anything else stored is shown as "message" (the role is stored text too).
ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}
MESSAGES_PER_PAGE = 10

# The run's spec as a person reads it: stored field -> label, in the order shown.
RUN_SPEC_FIELDS = {
    "run_id": "Run",
    "model": "Model",
    "model_developer": "Developer",
    "model_release_date": "Model released",
    "benchmark": "Benchmark",
    "task_version": "Task version",
    "eval_date": "Evaluated on",
    "metric": "Metric",
    "institute": "Run by",
    "source": "Source",
    "import_batch": "Import batch",
}
METRIC_NAMES = {"scorer": "Scorer", "metric": "Metric", "value": "Value"}


def run_tab(f: Filters, benchmark: str) -> None:
    runs = session.query(eval_runs.runs_of_benchmark, f, session.today(), benchmark)
    marking_banner(runs.marking, f"{counted(len(runs.data), 'run')} of this benchmark")
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
    score_col.metric("Score", MISSING if run["score"] is None else f"{run['score']:.3f}")
    stderr_col.metric("Std. error", MISSING if run["stderr"] is None else f"{run['stderr']:.3f}")
    samples_col.metric("Samples", f"{detail.samples_total:,}")
    status_col.metric("Status", run["status"])
    spec = {label: run[k] for k, label in RUN_SPEC_FIELDS.items()}
    left, right = st.columns([1, 1])
    left.markdown("**Spec**")
    left.dataframe(
        [{"Field": k, "Value": MISSING if v is None or v == "" else str(v)} for k, v in spec.items()],
        hide_index=True,
        width="stretch",
        height=35 * (len(spec) + 1) + 3,
    )
    right.markdown("**Metrics**")
    right.dataframe(
        eval_charts.styled(eval_charts.human_table(detail.metrics, METRIC_NAMES)),
        hide_index=True,
        width="stretch",
    )
    if run["details"]:
        with right.expander("Everything the import recorded"):
            st.json(run["details"], expanded=False)
    if credits := source_credits(marking):
        st.caption(f"Source: {'; '.join(credits)}.")


def _sample_pages(run_id: str, detail: RunDetail) -> None:
    """The run's samples: a score filter, one page of the list beside the open sample, then the UK–AU
    disagreements. Another run starts on its first page with nothing open."""
    counts = eval_runs.value_counts(detail.distribution)
    if st.session_state.get("ev_page_of") != run_id:
        st.session_state["ev_page"] = 1
        st.session_state["ev_value"] = "all"
        st.session_state.pop("ev_sample", None)
    st.session_state["ev_page_of"] = run_id
    values = ["all", *(v if v is not None else eval_runs.NO_SCORE for v in counts)]
    if st.session_state.get("ev_value") not in values:
        st.session_state["ev_value"] = "all"
    filter_col, page_col, size_col = st.columns([2, 1, 1])
    chosen = filter_col.selectbox(
        "Samples scored",
        values,
        key="ev_value",
        format_func=lambda v: _value_label(v, counts, detail.samples_total),
    )
    value = None if chosen == "all" else str(chosen)
    matching = (
        detail.samples_total
        if value is None
        else counts.get(None if value == eval_runs.NO_SCORE else value, 0)
    )
    size = size_col.selectbox("Rows per page", eval_runs.SAMPLE_PAGE_SIZES, key="ev_page_size")
    pages = max(1, -(-matching // size))
    if st.session_state.get("ev_page", 1) > pages:
        st.session_state["ev_page"] = 1
    page = page_col.number_input(f"Page (of {pages:,})", 1, pages, key="ev_page") - 1
    samples = session.query(eval_runs.sample_page, run_id, int(page), int(size), value)
    list_col, open_col = st.columns([3, 2], gap="medium")
    with list_col:
        opened = _sample_list(samples.data, detail)
    with open_col:
        if opened is None:
            st.caption("Choose a sample to read it here.")
        else:
            _open_sample(run_id, *opened)
    _disagreements(run_id)


def _value_label(value: Any, counts: dict[str | None, int], total: int) -> str:
    if value == "all":
        return f"All ({total:,})"
    key = None if value == eval_runs.NO_SCORE else str(value)
    name = VALUE_NAMES.get(str(value))
    shown = f"{value} · {name}" if name else str(value)
    return f"{shown} ({counts.get(key, 0):,})"


def _display(df: pd.DataFrame) -> pd.DataFrame:
    """The list as shown: text as text, "—" where a sample has none, the score to three places."""
    out = df.copy()
    out["score"] = [MISSING if pd.isna(v) else f"{v:.3f}" for v in out["score"]]
    out["has_transcript"] = ["yes" if v else MISSING for v in out["has_transcript"]]
    for col in ("value", "answer", "input", "target", "output", "other_scores"):
        out[col] = [
            MISSING if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in out[col]
        ]
    return out.rename(columns=SAMPLE_COLUMNS)


def _sample_list(df: pd.DataFrame, detail: RunDetail) -> tuple[str, int] | None:
    """The page of samples; a row clicked (or chosen below) opens beside the list. Returns (sample, epoch)."""
    if df.empty:
        empty_state("No samples of this run match this filter.")
        return None
    shown = _display(df)
    columns = [c for c in SAMPLE_COLUMNS.values() if c != "Other scorers" or detail.other_scorers]
    if not df["answer"].notna().any():
        columns.remove("Answer")
    event = st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_order=columns,
        on_select="rerun",
        selection_mode="single-row",
        key="ev_samples",
    )
    keys = [f"{sid}|{int(ep)}" for sid, ep in zip(df["sample_id"], df["epoch"], strict=True)]
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if rows and rows[0] < len(keys) and st.session_state.get("ev_clicked") != keys[rows[0]]:
        st.session_state["ev_sample"] = keys[rows[0]]  # a new click opens that sample
        st.session_state["ev_clicked"] = keys[rows[0]]
    if st.session_state.get("ev_sample") not in keys:
        st.session_state["ev_sample"] = keys[0]
    key = st.selectbox(
        "Open sample",
        keys,
        key="ev_sample",
        format_func=lambda k: f"{k.split('|')[0]} · epoch {k.split('|')[1]}",
    )
    if detail.other_scorers:
        st.caption(
            f"Other scorers in this log: {len(detail.other_scorers)} (their values under Other scorers)."
        )
    sid, _, epoch = str(key).rpartition("|")
    return sid, int(epoch)


def _open_sample(run_id: str, sample_id: str, epoch: int) -> None:
    """One sample in full beside the list, with a larger reading in a dialog for long transcripts."""
    found = session.query(eval_runs.sample_detail, run_id, sample_id, epoch)
    if found is None:
        empty_state("No such sample.")
        return
    marking_banner(found.marking, "this sample")
    _sample_body(found.data, "ev_side")
    if st.button("Read full width", key="ev_full", icon=":material/open_in_full:"):
        _sample_dialog(run_id, sample_id, epoch)


@st.dialog("Sample", width="large")
def _sample_dialog(run_id: str, sample_id: str, epoch: int) -> None:
    found = session.query(eval_runs.sample_detail, run_id, sample_id, epoch)
    if found is None:
        empty_state("No such sample.")
        return
    marking_banner(found.marking, "this sample")
    _sample_body(found.data, "ev_dialog")


def _sample_body(sample: SampleDetail, key: str) -> None:
    """A sample as Inspect's viewer shows it: headline, then input, output/transcript, scores, metadata and the
    same sample in other runs, one tab each."""
    st.text(f"Sample {sample.sample_id} · epoch {sample.epoch}")
    st.dataframe(
        pd.DataFrame(
            {
                "Field": ["Score", "Value as logged", "Answer", "Target"],
                "Value": [
                    MISSING if sample.score is None else f"{sample.score:.3f}",
                    sample.value or MISSING,
                    MISSING if sample.answer is None else sample.answer,
                    MISSING if sample.target is None else sample.target,
                ],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    transcript = sample.transcript or []
    names = ["Input", "Output", *(["Transcript"] if transcript else []), "Scores", "Metadata", "Other runs"]
    tabs = dict(zip(names, st.tabs(names), strict=True))
    with tabs["Input"]:
        messages = eval_runs.input_messages(sample.input)
        if messages is not None:
            _messages(messages, f"{key}_in")
        else:
            _text(sample.input)
        st.caption("Target")
        _text(sample.target)
    with tabs["Output"]:
        _text(sample.output)
        if transcript:
            st.caption(f"The whole conversation ({len(transcript):,} messages) is under Transcript.")
    if transcript:
        with tabs["Transcript"]:
            _messages(transcript, f"{key}_tr")
    with tabs["Scores"]:
        rows = [
            {
                "Scorer": "headline",
                "Score": sample.score,
                "Value": sample.value,
                "Answer": sample.answer,
                "Explanation": sample.explanation,
            }
        ]
        for o in sample.other_scores.to_dict("records"):
            rows.append(
                {
                    "Scorer": o["scorer"],
                    "Score": o["score"],
                    "Value": o["value"],
                    "Answer": o["answer"],
                    "Explanation": o["explanation"],
                }
            )
        scores = pd.DataFrame(rows)
        scores["Score"] = [MISSING if pd.isna(v) else f"{v:.3f}" for v in scores["Score"]]
        for col in ("Value", "Answer", "Explanation"):
            scores[col] = [
                MISSING if v is None or (isinstance(v, float) and pd.isna(v)) else v for v in scores[col]
            ]
        st.dataframe(scores, hide_index=True, width="stretch")
        if sample.explanation:
            st.caption("Headline scorer's explanation")
            _text(sample.explanation)
    with tabs["Metadata"]:
        if sample.metadata:
            st.json(sample.metadata, expanded=1)
        else:
            st.text(MISSING)
    with tabs["Other runs"]:
        _other_runs(sample)


def _text(value: str | None) -> None:
    """Stored text shown as text: wrapped, never interpreted."""
    if value is None or value == "":
        st.text(MISSING)
    else:
        st.code(value, language=None, wrap_lines=True, height="content")


def _messages(messages: list[dict[str, Any]], key: str) -> None:
    """Messages in order, a page at a time: role, text, tool calls (a transcript can run to hundreds)."""
    pages = max(1, -(-len(messages) // MESSAGES_PER_PAGE))
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Messages page (of {pages:,})", 1, pages, key=f"{key}_page"))
    first = (page - 1) * MESSAGES_PER_PAGE
    for n, message in enumerate(messages[first : first + MESSAGES_PER_PAGE], start=first + 1):
        role = ROLE_NAMES.get(str(message.get("role")), "Message")
        tool = message.get("function") if role == "Tool" else None
        st.caption(f"{n}. {role}" + (" (tool result)" if tool else ""))
        _text(eval_runs.message_text(message))
        for call in eval_runs.tool_calls_text(message):
            st.code(call, language=None, wrap_lines=True)


def _other_runs(sample: SampleDetail) -> None:
    """The same sample id and epoch in the other visible runs of this benchmark and task version."""
    side = session.query(eval_runs.same_sample_across_runs, sample.run_id, sample.sample_id, sample.epoch)
    marking_banner(side.marking, f"{counted(len(side.data), 'run')} with this sample")
    if len(side.data) <= 1:
        st.caption("No other run of this benchmark and task version that you may see has this sample.")
        return
    st.dataframe(
        _fill(side.data).rename(
            columns={
                "run_id": "Run",
                "model": "Model",
                "institute": "Institute",
                "eval_date": "Evaluated",
                "score": "Score",
                "value": "Value",
                "answer": "Answer",
                "output": "Output",
                "explanation": "Explanation",
            }
        ),
        hide_index=True,
        width="stretch",
    )


def _fill(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if col == "score":
            out[col] = [MISSING if pd.isna(v) else f"{v:.3f}" for v in out[col]]
        elif col == "eval_date":
            out[col] = [MISSING if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d") for v in out[col]]
        else:
            out[col] = [
                MISSING if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in out[col]
            ]
    return out


def _disagreements(run_id: str) -> None:
    """The samples this run's model was scored differently on by the UK and the AU, side by side on demand."""
    found = session.query(eval_runs.uk_au_disagreements, run_id)
    if found is None:
        return
    d = found.data
    st.markdown("**Where the UK and AU runs disagree**")
    marking_banner(found.marking, "the UK and AU runs of this model")
    if d.uk_run is None or d.au_run is None:
        st.caption(
            "No run of this model, benchmark and task version by the other institute that you may see."
        )
        return
    st.caption(
        f"{counted(d.disagreeing, 'sample')} scored differently of {d.shared:,} both scored"
        + (f" (the first {len(d.samples):,} listed)" if d.disagreeing > len(d.samples) else "")
        + "."
    )
    if d.samples.empty:
        return
    shown = _fill(d.samples.drop(columns=["epoch"])).rename(
        columns={
            "sample_id": "Sample",
            "uk_value": "UK value",
            "au_value": "AU value",
            "uk_answer": "UK answer",
            "au_answer": "AU answer",
        }
    )
    st.dataframe(shown, hide_index=True, width="stretch")
    keys = [f"{sid}|{int(ep)}" for sid, ep in zip(d.samples["sample_id"], d.samples["epoch"], strict=True)]
    key = st.selectbox(
        "Sample to compare",
        keys,
        key="ev_disagree",
        format_func=lambda k: f"{k.split('|')[0]} · epoch {k.split('|')[1]}",
    )
    if st.button("UK and AU side by side", key="ev_side_by_side", icon=":material/compare:"):
        sid, _, epoch = str(key).rpartition("|")
        _side_by_side(d.uk_run, d.au_run, sid, int(epoch))


@st.dialog("UK and AU, side by side", width="large")
def _side_by_side(uk_run: str, au_run: str, sample_id: str, epoch: int) -> None:
    st.text(f"Sample {sample_id} · epoch {epoch}")
    for column, institute, run in zip(st.columns(2), ("UK", "AU"), (uk_run, au_run), strict=True):
        with column:
            found = session.query(eval_runs.sample_detail, run, sample_id, epoch)
            st.text(f"{institute} run {run}")
            if found is None:
                empty_state("No such sample in this run.")
                continue
            marking_banner(found.marking, f"the {institute} run")
            _sample_body(found.data, f"ev_sbs_{institute}")
