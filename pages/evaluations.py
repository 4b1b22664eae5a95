"""Evaluations: capability over time with thresholds, model comparison with paired tests, UK–AU agreement and
run detail. Thin: widgets in, analytics.evals out (queries: benchmarks, capability, thresholds; comparisons: models
and institutes compared; runs: one run in detail), rendered with a marking banner above every piece of data.

`main` draws the page head, the benchmark picker and the tabs, and calls one function per tab. Only the open tab
is computed (stateful tabs rerun on a switch): computing all four on every run made the first chart wait for the
other tabs' queries, figures and tables, which on a busy 2-core machine took seconds."""

from dataclasses import replace
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access.markings import Marking
from analytics.access.roles import ASSESSMENT_AUTHORS, RECORD_READERS
from analytics.access.viewer import AccessDenied, Viewer
from analytics.evals import charts as eval_charts
from analytics.evals import comparisons
from analytics.evals import queries as evals
from analytics.evals import runs as eval_runs
from analytics.evals.charts import Scale
from analytics.evals.queries import Threshold
from analytics.export import table as table_export
from analytics.filters import Filters
from analytics.links import queries as links
from analytics.sources import source_credits
from analytics.wording import counted
from pages.parts.currency import currency_line
from pages.parts.eval_run_detail import run_tab
from pages.ui import chart, empty_state, inert_markdown, marking_banner, page_to_slide

# Picks kept across tab switches (see `_keep_picks`).
_KEPT_PICKS = ("ev_models", "ev_flagged_only", "ev_run", "ev_page_size", "ev_page", "ev_frontier_by")

RELATED_NAMES = {
    "id": "Incident",
    "occurred_on": "Date",
    "title": "Title",
    "originator": "Reported by",
    "source": "Source",
    "category": "Category",
    "severity": "Severity",
    "tlp": "TLP",
    "techniques": "Techniques",
}
CROSSING_NAMES = {
    "model": "Model",
    "developer": "Developer",
    "release_date": "Release date",
    "best_score": "Best score",
    "runs": "Runs",
    "institutes": "Run by",
}
FIRST_CROSSING_NAMES = {
    "developer": "Developer",
    "first_model": "First model",
    "first_crossed": "Released",
    "models": "Models",
}
PAIR_ORDER = [
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
AGREEMENT_ORDER = [
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


def main() -> None:
    viewer = session.require_role(*RECORD_READERS)
    shared = session.filters()
    # The link's benchmark is picked below; no query reads it, so results stay cached across benchmarks.
    f = replace(shared, benchmark="")
    today = session.today()

    st.title("Evaluations")
    currency_line("evaluations")
    st.caption(
        f"Sidebar filters used here: {evals.FILTERS_APPLIED}. Picking UK or AU under *Reported by* leaves out "
        "public results. The other sidebar filters describe incidents and do not apply to this page."
    )
    summary = session.query(evals.benchmark_summary, f, today)
    marking_banner(summary.marking, "all evaluation results on this page")
    if summary.data.empty:
        empty_state("No evaluation results match these filters.")
        st.stop()
    benchmark = _benchmark_picker(summary.data, shared.benchmark)
    _keep_picks()
    # One colour per developer in every chart of the page (analytics.evals.charts.developer_colours).
    colours = eval_charts.developer_colours(session.query(evals.developer_ranking, today))

    tab_cap, tab_cmp, tab_agree, tab_run = st.tabs(
        ["Capability over time", "Compare models", "UK–AU agreement", "Run detail"],
        key="ev_tab",
        on_change="rerun",
    )
    if tab_cap.open:
        with tab_cap:
            row = summary.data[summary.data["benchmark"] == benchmark].iloc[0]
            _capability_tab(viewer, f, benchmark, colours, has_release_dates=bool(row["dated_runs"]))
    if tab_cmp.open:
        with tab_cmp:
            _compare_tab(f, colours)
    if tab_agree.open:
        with tab_agree:
            _agreement_tab(f)
    if tab_run.open:
        with tab_run:
            run_tab(f, benchmark)


def _benchmark_picker(summary: pd.DataFrame, linked: str) -> str:
    """The benchmark that capability and run detail show: the link's (`?benchmark=NAME`, the name as stored),
    else the last one picked, else Cybench when there is one. The pick is written back to the address bar, so
    the link reopens this view."""
    benchmarks = summary["benchmark"].tolist()
    run_counts = dict(zip(summary["benchmark"], summary["runs"], strict=True))
    # A link (or a saved view) asks for a benchmark the page has not shown yet: follow it once.
    if linked and linked != st.session_state.get("ev_benchmark_linked"):
        if linked in run_counts:
            st.session_state["ev_benchmark"] = linked
        else:
            # The same words whether the name does not exist or names runs this person may not see.
            st.warning(
                f"No benchmark called “{inert_markdown(linked[:120])}” has results you can see under these "
                "filters; pick one below.",
                icon=":material/search_off:",
            )
    if st.session_state.get("ev_benchmark") not in run_counts:
        st.session_state["ev_benchmark"] = "Cybench" if "Cybench" in run_counts else benchmarks[0]
    picked = str(
        st.selectbox(
            "Benchmark",
            benchmarks,
            key="ev_benchmark",
            format_func=lambda b: f"{b} ({counted(run_counts.get(b, 0), 'run')})",
            help="Capability over time and run detail show this benchmark; comparison and agreement cover all. "
            "The address bar keeps it, so a link opens this benchmark.",
        )
    )
    st.session_state["ev_benchmark_linked"] = picked
    if st.query_params.get("benchmark") != picked:
        st.query_params["benchmark"] = picked
    return picked


def _keep_picks() -> None:
    # Streamlit forgets the value of a widget that a run does not draw, and a closed tab is not drawn: re-store
    # each pick as a plain session value every run so it is still there when its tab is opened again.
    for key in _KEPT_PICKS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    st.session_state.setdefault("ev_page_size", eval_runs.SAMPLE_PAGE_SIZES[1])


def _table(df: pd.DataFrame, names: dict[str, str], **kwargs: Any) -> None:
    """A table as people read it: human column names, "—" for missing, numbers and dates formatted."""
    st.dataframe(
        eval_charts.styled(eval_charts.human_table(df, names)), hide_index=True, width="stretch", **kwargs
    )


def _chart_data_download(frame: pd.DataFrame, marking: Marking, key: str, stem: str, what: str) -> None:
    """The data behind a chart as a marked CSV (the marking on its first line and in its name, the sources
    credited, the export audited), built only when pressed, as the explorer's downloads are."""
    store, viewer, today = session.store(), session.viewer(), session.today()
    credits = source_credits(marking)
    extra = [f"exported {today.isoformat()}", counted(len(frame), "row"), what]
    if credits:
        extra.append(f"Sources: {'; '.join(credits)}")
    st.download_button(
        "Chart data (CSV)",
        data=partial(
            table_export.export_csv,
            store,
            viewer,
            frame,
            marking,
            header=[table_export.marking_comment(marking, extra)],
            obj=f"chart:{key}",
            filters=session.filters(),
        ),
        file_name=table_export.export_filename(stem, marking, "csv", today),
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key=f"{key}__csv",
        help=f"The {counted(len(frame), 'row')} behind this chart, marked {marking.label}.",
    )


# -- capability over time and thresholds ------------------------------------------------------------------------


def _capability_tab(
    viewer: Viewer, f: Filters, benchmark: str, colours: dict[str, str], *, has_release_dates: bool
) -> None:
    today = session.today()
    if has_release_dates:
        by = str(
            st.radio(
                "Frontier by",
                list(evals.FRONTIER_DATES),
                format_func={"release": "model release date", "evaluation": "evaluation date"}.get,
                horizontal=True,
                key="ev_frontier_by",
            )
        )
    else:
        by = "evaluation"
        st.caption("No run of this benchmark records a model release date: drawn by evaluation date.")
    cap = session.query(evals.capability_over_time, f, today, benchmark, by)
    threshold = session.query(evals.threshold_for, benchmark)
    scale = eval_charts.scale_for(cap.data.unit, cap.data.higher_is_better, cap.data.metrics)
    marking_banner(cap.marking, f"{counted(len(cap.data.points), 'run')} on the chart")
    if cap.data.points.empty:
        empty_state("No scored run of this benchmark has such a date under these filters.")
    else:
        cap_fig = eval_charts.capability_chart(
            cap.data.points,
            cap.data.frontier,
            benchmark,
            scale,
            colours,
            threshold.threshold if threshold else None,
            cap.data.by,
        )
        event = chart(
            cap_fig, key="ev_capability", marking=cap.marking, on_select="rerun", selection_mode="points"
        )
        _chart_data_download(
            eval_charts.capability_table(cap.data.points, scale, cap.data.by),
            cap.marking,
            "ev_capability",
            f"{benchmark}-capability",
            f"{benchmark}: capability over time",
        )
        picked = [p for p in (event.selection.points if event else []) if p.get("customdata")]
        # The chart keeps its selection across reruns: act on a new click only, so the run picker stays usable.
        pick = str(picked[0]["customdata"][0]) if picked else None
        if pick and pick != st.session_state.get("ev_last_pick"):
            st.session_state["ev_run"] = pick
            st.info("Run selected: open the **Run detail** tab to see it.", icon=":material/ads_click:")
        st.session_state["ev_last_pick"] = pick
    notes = [
        f"Scores: {scale.axis_title}. Colour: the {eval_charts.TOP_DEVELOPERS} developers with most runs here "
        "(each keeps its colour on every chart), the rest grey as Other; the hover names every developer. "
        "Labels: the models that moved a frontier. Marker shape: ● UK, ◆ AU, ■ public; hollow: best-of-N "
        "(best of several attempts or reported results). Whiskers are 95% intervals where the run reported "
        "one. One frontier per source, metric and task version: they measure different things and are not "
        "joined."
    ]
    if cap.data.undated:
        one = cap.data.undated == 1
        notes.append(
            f"{counted(cap.data.undated, 'scored run')} {'has' if one else 'have'} no such date and "
            f"{'is' if one else 'are'} not on the chart."
        )
    if credits := source_credits(cap.marking):
        notes.append(f"Public results: {'; '.join(credits)}.")
    st.caption(" ".join(notes))
    if not cap.data.points.empty:
        page_to_slide(f"{benchmark}: capability over time", [(cap_fig, cap.marking)], key="ev_slide")

    _related_incidents(f, benchmark)
    _threshold_section(viewer, benchmark, threshold, scale)
    if threshold:
        _crossings(f, benchmark, threshold)


def _related_incidents(f: Filters, benchmark: str) -> None:
    st.subheader("Incidents of the techniques this benchmark covers")
    related = session.query(links.incidents_for_benchmark, benchmark, f, session.today())
    marking_banner(related.marking, f"{counted(related.marking.rows, 'incident')} in the period")
    if related.data.empty:
        st.caption(
            "No incident in the period cites a technique this benchmark is mapped to "
            "(the mapping is edited on the Threat matrix page)."
        )
        return
    _table(related.data, RELATED_NAMES, height=min(38 + 35 * len(related.data), 320))


def _threshold_section(viewer: Viewer, benchmark: str, threshold: Threshold | None, scale: Scale) -> None:
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
    # Crossing is "at or above" on every benchmark (analytics.evals.queries.threshold_crossings); said here
    # because on a lower-is-better benchmark (attack success rate) that is the run doing worse than the line.
    st.caption(
        "A model crosses the threshold when one of its runs scores at or above it"
        + (
            "; here lower is better, so a crossing is a run doing worse than the line."
            if not scale.higher_is_better
            else "."
        )
    )
    if viewer.role not in ASSESSMENT_AUTHORS:
        st.caption("Analysts and leads set thresholds; every change is audited.")
        return
    # The form starts from this benchmark's threshold, or empty: never a value nobody chose.
    if st.session_state.get("ev_threshold_for") != benchmark:
        st.session_state.pop("ev_threshold_value", None)
        st.session_state.pop("ev_threshold_note", None)
        st.session_state["ev_threshold_for"] = benchmark
    with st.form("ev_threshold_form", border=True):
        value_col, note_col = st.columns([2, 3])
        value = value_col.number_input(
            f"Threshold score ({'share, 0 to 1' if scale.share else scale.unit})",
            value=float(threshold.threshold) if threshold else None,
            step=0.01 if scale.share else 1.0,
            format="%.3f" if scale.share else "%.1f",
            placeholder="enter a score",
            key="ev_threshold_value",
        )
        note = note_col.text_input("Why this line (optional)", max_chars=500, key="ev_threshold_note")
        save_col, clear_col, _ = st.columns([1, 1, 2])
        save = save_col.form_submit_button("Save threshold", type="primary")
        clear = clear_col.form_submit_button("Clear threshold", disabled=threshold is None)
    if not (save or clear):
        return
    if save and value is None:
        st.warning("Enter a threshold score first.")
        return
    try:
        with session.store().transaction() as tx:
            if save:
                evals.set_threshold(tx, viewer, benchmark, float(value), note)  # type: ignore[arg-type]
            else:
                evals.clear_threshold(tx, viewer, benchmark)
    except (AccessDenied, ValueError) as e:
        st.warning(str(e))
    else:
        st.rerun()


def _crossings(f: Filters, benchmark: str, threshold: Threshold) -> None:
    crossings = session.query(evals.threshold_crossings, f, session.today(), benchmark, threshold.threshold)
    marking_banner(
        crossings.marking, f"{counted(len(crossings.data.models), 'model')} at or above the threshold"
    )
    if crossings.data.models.empty:
        empty_state("No visible model reaches this threshold under these filters.")
        return
    models_col, first_col = st.columns([3, 2])
    with models_col:
        st.markdown("**Models at or above the threshold**")
        _table(crossings.data.models, CROSSING_NAMES)
    with first_col:
        st.markdown("**First crossing by developer** (model release date)")
        _table(crossings.data.first_by_developer, FIRST_CROSSING_NAMES)


# -- model comparison -------------------------------------------------------------------------------------------


def _compare_tab(f: Filters, colours: dict[str, str]) -> None:
    today = session.today()
    choices = session.query(comparisons.model_choices, f, today)
    by_model = {c.model: c for c in choices}
    if "ev_models" not in st.session_state:
        # First visit: the models that can be paired on shared samples (public results cannot).
        st.session_state["ev_models"] = [c.model for c in choices if c.with_samples >= 1][
            : comparisons.DEFAULT_COMPARED
        ]

    def label(m: str) -> str:
        c = by_model.get(m)
        if c is None:
            return m
        samples = f"{c.with_samples} with per-sample data" if c.with_samples else "no per-sample data"
        return f"{m} ({counted(c.benchmarks, 'benchmark')}; {samples})"

    models = st.multiselect(
        f"Models to compare (2–{comparisons.MAX_COMPARED_MODELS})",
        [c.model for c in choices],
        max_selections=comparisons.MAX_COMPARED_MODELS,
        format_func=label,
        key="ev_models",
        help="Models with per-sample data come first: only they can be compared sample by sample.",
    )
    st.caption(
        "Models with *no per-sample data* (Epoch AI's public results report one score per model) cannot be "
        "paired sample by sample: they are compared through their runs' standard errors, and where a run "
        'reports none there is no interval and no test (verdict "no interval for one of the runs").'
    )
    if len(models) < 2:
        empty_state("Pick two to five models to compare them on every benchmark they share.")
        return
    comparison = session.query(comparisons.compare_models, f, today, tuple(models))
    marking_banner(comparison.marking, f"{counted(len(comparison.data.scores), 'run')} compared")
    if comparison.data.scores.empty:
        empty_state("These models share no benchmark under these filters.")
        return
    chart(
        eval_charts.comparison_chart(comparison.data.scores, list(models), colours),
        key="ev_comparison",
        marking=comparison.marking,
        export_title="Model comparison",
    )
    _chart_data_download(
        eval_charts.comparison_table(comparison.data.scores),
        comparison.marking,
        "ev_comparison",
        "model-comparison",
        f"scores of {counted(len(models), 'model')} on the benchmarks they share",
    )
    st.markdown("**Is the difference real?** One row per pair of models on each shared benchmark.")
    _table(comparison.data.pairs, {k: eval_charts.PAIR_NAMES[k] for k in PAIR_ORDER})
    with st.expander("Scores and the runs behind them"):
        st.dataframe(
            eval_charts.styled(eval_charts.comparison_table(comparison.data.scores)),
            hide_index=True,
            width="stretch",
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
            f"{counted(len(comparison.data.single), 'benchmark')} with a result for only one of these models "
            f"{'is' if len(comparison.data.single) == 1 else 'are'} not shown."
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
        chart(
            eval_charts.agreement_chart(shown),
            key="ev_agreement",
            marking=agreement.marking,
            export_title="UK–AU agreement",
        )
        names = {k: eval_charts.AGREEMENT_NAMES[k] for k in AGREEMENT_ORDER}
        _chart_data_download(
            eval_charts.human_table(shown, names),
            agreement.marking,
            "ev_agreement",
            "uk-au-agreement",
            "UK and AU runs of the same model, benchmark and task version",
        )
        _table(shown, names)
    st.caption(" · ".join(f"**{k}**: {v}" for k, v in comparisons.AGREEMENT_STATUSES.items()))


main()
