"""Evaluations: capability over time with thresholds, model comparison with paired tests, UK–AU agreement and
run detail. Thin: widgets in, analytics.evals out (queries: benchmarks, capability, thresholds; comparisons: models
and institutes compared; runs: one run in detail), rendered with a marking banner above every piece of data.

`main` draws the page head, the benchmark picker and the tabs, and calls one function per tab. Only the open tab
is computed (stateful tabs rerun on a switch): computing all four on every run made the first chart wait for the
other tabs' queries, figures and tables, which on a busy 2-core machine took seconds."""

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access.roles import ASSESSMENT_AUTHORS, RECORD_READERS
from analytics.access.viewer import AccessDenied, Viewer
from analytics.evals import charts as eval_charts
from analytics.evals import comparisons
from analytics.evals import queries as evals
from analytics.evals import runs as eval_runs
from analytics.evals.queries import Capability, Threshold
from analytics.filters import Filters
from analytics.links import queries as links
from analytics.sources import source_credits
from pages.parts.currency import currency_line
from pages.parts.eval_run_detail import run_tab
from pages.ui import chart, empty_state, marking_banner, page_to_slide

DATE = st.column_config.DateColumn(format="YYYY-MM-DD")
SCORE = st.column_config.NumberColumn(format="%.3f")
P_VALUE = st.column_config.NumberColumn(format="%.4f")

# Picks kept across tab switches (see `_keep_picks`).
_KEPT_PICKS = ("ev_models", "ev_flagged_only", "ev_run", "ev_page_size", "ev_page")

PAIR_COLUMNS = [
    "benchmark",
    "model_a",
    "model_b",
    "verdict",
    "diff",
    "ci_low",
    "ci_high",
    "ci_level",
    "p_holm",
    "pairing",
    "test",
    "n_paired",
    "score_a",
    "score_b",
    "p",
]
# Intervals are at the level that agrees with the adjusted verdict (analytics.evals.comparisons), not always 95%.
CI_LOW = st.column_config.NumberColumn("CI low", format="%.3f")
CI_HIGH = st.column_config.NumberColumn("CI high", format="%.3f")
CI_LEVEL = st.column_config.NumberColumn("CI level", format="%.3f", help="Confidence level of the interval")
PAIR_CONFIG = {
    "verdict": st.column_config.TextColumn("Verdict", width="medium"),
    "pairing": st.column_config.TextColumn("Paired?", width="medium"),
    "score_a": SCORE,
    "score_b": SCORE,
    "diff": st.column_config.NumberColumn("A − B", format="%.3f"),
    "ci_low": CI_LOW,
    "ci_high": CI_HIGH,
    "ci_level": CI_LEVEL,
    "p": P_VALUE,
    "p_holm": st.column_config.NumberColumn("p (Holm)", format="%.4f"),
}
AGREEMENT_COLUMNS = [
    "status",
    "model",
    "benchmark",
    "task_version",
    "difference",
    "ci_low",
    "ci_high",
    "ci_level",
    "p_adjusted",
    "pairing",
    "test",
    "overlap",
    "p_value",
    "uk_score",
    "uk_ci_low",
    "uk_ci_high",
    "au_score",
    "au_ci_low",
    "au_ci_high",
    "uk_run",
    "au_run",
]
AGREEMENT_CONFIG = {
    "ci_low": CI_LOW,
    "ci_high": CI_HIGH,
    "ci_level": CI_LEVEL,
    "p_adjusted": st.column_config.NumberColumn("p (BH)", format="%.4f"),
    "pairing": st.column_config.TextColumn("Paired?", width="medium"),
    "uk_score": SCORE,
    "uk_ci_low": SCORE,
    "uk_ci_high": SCORE,
    "au_score": SCORE,
    "au_ci_low": SCORE,
    "au_ci_high": SCORE,
    "difference": st.column_config.NumberColumn("UK − AU", format="%.3f"),
    "p_value": P_VALUE,
}


def main() -> None:
    viewer = session.require_role(*RECORD_READERS)
    f = session.filters()

    st.title("Evaluations")
    currency_line("evaluations")
    st.caption(
        f"Sidebar filters used here: {evals.FILTERS_APPLIED}. Picking UK or AU under *Reported by* leaves out "
        "public results. The other sidebar filters describe incidents and do not apply to this page."
    )
    summary = session.query(evals.benchmark_summary, f, session.today())
    marking_banner(summary.marking, "all evaluation results on this page")
    if summary.data.empty:
        empty_state("No evaluation results match these filters.")
        st.stop()
    benchmark = _benchmark_picker(summary.data)
    _keep_picks()

    tab_cap, tab_cmp, tab_agree, tab_run = st.tabs(
        ["Capability over time", "Compare models", "UK–AU agreement", "Run detail"],
        key="ev_tab",
        on_change="rerun",
    )
    if tab_cap.open:
        with tab_cap:
            _capability_tab(viewer, f, benchmark)
    if tab_cmp.open:
        with tab_cmp:
            _compare_tab(f)
    if tab_agree.open:
        with tab_agree:
            _agreement_tab(f)
    if tab_run.open:
        with tab_run:
            run_tab(f, benchmark)


def _benchmark_picker(summary: pd.DataFrame) -> str:
    """The benchmark that capability and run detail show (Cybench when there is one)."""
    benchmarks = summary["benchmark"].tolist()
    run_counts = dict(zip(summary["benchmark"], summary["runs"], strict=True))
    if st.session_state.get("ev_benchmark") not in benchmarks:
        st.session_state["ev_benchmark"] = "Cybench" if "Cybench" in benchmarks else benchmarks[0]
    return str(
        st.selectbox(
            "Benchmark",
            benchmarks,
            key="ev_benchmark",
            format_func=lambda b: f"{b} ({run_counts.get(b, 0)} runs)",
            help="Capability over time and run detail show this benchmark; comparison and agreement cover all.",
        )
    )


def _keep_picks() -> None:
    # Streamlit forgets the value of a widget that a run does not draw, and a closed tab is not drawn: re-store
    # each pick as a plain session value every run so it is still there when its tab is opened again.
    for key in _KEPT_PICKS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    st.session_state.setdefault("ev_page_size", eval_runs.SAMPLE_PAGE_SIZES[1])


# -- capability over time and thresholds ------------------------------------------------------------------------


def _capability_tab(viewer: Viewer, f: Filters, benchmark: str) -> None:
    today = session.today()
    by = st.radio(
        "Frontier by",
        list(evals.FRONTIER_DATES),
        format_func={"release": "model release date", "evaluation": "evaluation date"}.get,
        horizontal=True,
        key="ev_frontier_by",
    )
    cap = session.query(evals.capability_over_time, f, today, benchmark, str(by))
    threshold = session.query(evals.threshold_for, benchmark)
    marking_banner(cap.marking, f"{len(cap.data.points):,} runs on the chart")
    if cap.data.points.empty:
        empty_state("No scored run of this benchmark has a model release date under these filters.")
    else:
        cap_fig = eval_charts.capability_chart(
            cap.data.points,
            cap.data.frontier,
            benchmark,
            cap.data.unit,
            threshold.threshold if threshold else None,
            cap.data.by,
        )
        event = chart(
            cap_fig, key="ev_capability", marking=cap.marking, on_select="rerun", selection_mode="points"
        )
        picked = [p for p in (event.selection.points if event else []) if p.get("customdata")]
        # The chart keeps its selection across reruns: act on a new click only, so the run picker stays usable.
        pick = str(picked[0]["customdata"][0]) if picked else None
        if pick and pick != st.session_state.get("ev_last_pick"):
            st.session_state["ev_run"] = pick
            st.info("Run selected: open the **Run detail** tab to see it.", icon=":material/ads_click:")
        st.session_state["ev_last_pick"] = pick
    notes = [
        "Marker shape: ● UK, ◆ AU, ■ public; hollow: best-of-N (best of several attempts or reported results). "
        "Whiskers are 95% intervals where the run reported one. One frontier per source, metric and task "
        "version: they measure different things and are not joined."
    ]
    if cap.data.undated:
        notes.append(f"{cap.data.undated} scored run(s) have no such date and are not on the chart.")
    if credits := source_credits(cap.marking):
        notes.append(f"Public results: {'; '.join(credits)}.")
    st.caption(" ".join(notes))
    if not cap.data.points.empty:
        page_to_slide(f"{benchmark}: capability over time", [(cap_fig, cap.marking)], key="ev_slide")

    _related_incidents(f, benchmark)
    _threshold_section(viewer, benchmark, threshold, cap.data)
    if threshold:
        _crossings(f, benchmark, threshold)


def _related_incidents(f: Filters, benchmark: str) -> None:
    st.subheader("Incidents of the techniques this benchmark covers")
    related = session.query(links.incidents_for_benchmark, benchmark, f, session.today())
    marking_banner(related.marking, f"{related.marking.rows:,} incidents in the period")
    if related.data.empty:
        st.caption(
            "No incident in the period cites a technique this benchmark is mapped to "
            "(the mapping is edited on the Threat matrix page)."
        )
        return
    st.dataframe(
        related.data,
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(related.data), 320),
        column_config={"occurred_on": DATE},
    )


def _threshold_section(viewer: Viewer, benchmark: str, threshold: Threshold | None, cap: Capability) -> None:
    """The threshold in force, and for analysts and leads the form that sets or clears it (audited)."""
    st.subheader("Threshold")
    if threshold:
        st.markdown(
            f"Threshold **{threshold.threshold:g}**, set by {threshold.set_by_institute} "
            f"on {threshold.set_at:%Y-%m-%d %H:%M}."
        )
        st.text(f"Set by {threshold.set_by}" + (f" · note: {threshold.note}" if threshold.note else ""))
    else:
        st.caption("No threshold is set for this benchmark.")
    if viewer.role not in ASSESSMENT_AUTHORS:
        st.caption("Analysts and leads set thresholds; every change is audited.")
        return
    # The form starts from this benchmark's threshold (or a value on its scale), not the last one typed.
    if st.session_state.get("ev_threshold_for") != benchmark:
        st.session_state.pop("ev_threshold_value", None)
        st.session_state.pop("ev_threshold_note", None)
        st.session_state["ev_threshold_for"] = benchmark
    share = cap.unit == "fraction"
    typical = float(cap.points["score"].median()) if not cap.points.empty else 0.5
    with st.form("ev_threshold_form", border=True):
        value_col, note_col = st.columns([1, 3])
        value = value_col.number_input(
            "Threshold score",
            value=float(threshold.threshold) if threshold else (0.5 if share else float(round(typical))),
            step=0.01 if share else 1.0,
            format="%.3f" if share else "%.1f",
            key="ev_threshold_value",
        )
        note = note_col.text_input("Why this line (optional)", max_chars=500, key="ev_threshold_note")
        save_col, clear_col = st.columns([1, 5])
        save = save_col.form_submit_button("Save threshold", type="primary")
        clear = clear_col.form_submit_button("Clear threshold", disabled=threshold is None)
    if not (save or clear):
        return
    try:
        with session.store().transaction() as tx:
            if save:
                evals.set_threshold(tx, viewer, benchmark, value, note)
            else:
                evals.clear_threshold(tx, viewer, benchmark)
    except (AccessDenied, ValueError) as e:
        st.warning(str(e))
    else:
        st.rerun()


def _crossings(f: Filters, benchmark: str, threshold: Threshold) -> None:
    crossings = session.query(evals.threshold_crossings, f, session.today(), benchmark, threshold.threshold)
    marking_banner(crossings.marking, f"{len(crossings.data.models)} models at or above the threshold")
    if crossings.data.models.empty:
        empty_state("No visible model reaches this threshold under these filters.")
        return
    models_col, first_col = st.columns([3, 2])
    models_col.markdown("**Models at or above the threshold**")
    models_col.dataframe(
        crossings.data.models,
        hide_index=True,
        width="stretch",
        column_config={"release_date": DATE, "best_score": SCORE},
    )
    first_col.markdown("**First crossing by developer** (model release date)")
    first_col.dataframe(
        crossings.data.first_by_developer,
        hide_index=True,
        width="stretch",
        column_config={"first_crossed": DATE},
    )


# -- model comparison -------------------------------------------------------------------------------------------


def _compare_tab(f: Filters) -> None:
    today = session.today()
    options = session.query(comparisons.model_options, f, today)
    n_bench = dict(options)
    models = st.multiselect(
        f"Models to compare (2–{comparisons.MAX_COMPARED_MODELS})",
        [m for m, _ in options],
        max_selections=comparisons.MAX_COMPARED_MODELS,
        format_func=lambda m: f"{m} ({n_bench.get(m, 0)} benchmarks)",
        key="ev_models",
    )
    if len(models) < 2:
        empty_state("Pick two to five models to compare them on every benchmark they share.")
        return
    comparison = session.query(comparisons.compare_models, f, today, tuple(models))
    marking_banner(comparison.marking, f"{len(comparison.data.scores)} runs compared")
    if comparison.data.scores.empty:
        empty_state("These models share no benchmark under these filters.")
        return
    chart(
        eval_charts.comparison_chart(comparison.data.scores, list(models)),
        key="ev_comparison",
        marking=comparison.marking,
    )
    st.markdown("**Is the difference real?** One row per pair of models on each shared benchmark.")
    st.dataframe(
        comparison.data.pairs,
        hide_index=True,
        width="stretch",
        column_order=PAIR_COLUMNS,
        column_config=PAIR_CONFIG,
    )
    with st.expander("Scores and the runs behind them"):
        st.dataframe(
            comparison.data.scores,
            hide_index=True,
            width="stretch",
            column_config={"score": SCORE, "ci_low": SCORE, "ci_high": SCORE, "eval_date": DATE},
        )
    st.caption(
        "Per model and benchmark the comparison uses one run: one with per-sample scores if any, else the "
        "latest. Paired only on the same task version, sample and epoch (at least 10 shared samples): McNemar's "
        "exact test for right/wrong scores, a sign-flip permutation test otherwise; else unpaired, a z-test from "
        "the runs' standard errors ('Paired?' says which and why). p-values are Holm-adjusted across every pair "
        "shown; 'real difference' means adjusted p < 0.05, and each interval is at the level that agrees with it."
    )
    if comparison.data.single:
        st.caption(
            f"{len(comparison.data.single)} benchmark(s) with a result for only one of these models are not shown."
        )
    if credits := source_credits(comparison.marking):
        st.caption(f"Public results: {'; '.join(credits)}.")


# -- cross-institute agreement ----------------------------------------------------------------------------------


def _agreement_tab(f: Filters) -> None:
    agreement = session.query(comparisons.institute_agreement, f, session.today())
    marking_banner(agreement.marking, f"{len(agreement.data)} model/benchmark pairs run by both institutes")
    data = agreement.data
    if data.empty:
        empty_state(
            "No model, benchmark and task version has been run by both UK and AU under these filters."
        )
        return
    counts = data["status"].value_counts()
    both_col, disagree_col, agree_col, paired_col = st.columns(4)
    both_col.metric("Run by both", f"{len(data):,}")
    disagree_col.metric("Disagree", f"{int(counts.get('disagree', 0)):,}")
    agree_col.metric("Agree", f"{int(counts.get('agree', 0)):,}")
    paired_col.metric("Paired on shared samples", f"{int(data['paired'].sum()):,}")
    flagged_only = st.toggle("Show only pairs flagged for follow-up", key="ev_flagged_only")
    shown = data[data["status"] == "disagree"] if flagged_only else data
    if shown.empty:
        empty_state("Nothing flagged: no pair differs once the whole table is accounted for.")
    else:
        chart(eval_charts.agreement_chart(shown), key="ev_agreement", marking=agreement.marking)
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_order=AGREEMENT_COLUMNS,
            column_config=AGREEMENT_CONFIG,
        )
    st.caption(" · ".join(f"**{k}**: {v}" for k, v in comparisons.AGREEMENT_STATUSES.items()))


main()
