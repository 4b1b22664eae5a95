"""Evaluations: capability over time with thresholds, model comparison with paired tests, UK–AU agreement and
run detail. Thin: widgets in, analytics.evals.queries out, rendered with a marking banner above every piece of data.

Only the open tab is computed (stateful tabs rerun on a switch): computing all four on every run made the first
chart wait for the other tabs' queries, figures and tables, which on a busy 2-core machine took seconds."""

import streamlit as st

from analytics import session
from analytics.access.pages import RECORD_ROLES
from analytics.access.viewer import AccessDenied
from analytics.evals import charts as eval_charts
from analytics.evals import queries as evals
from analytics.links import queries as links
from pages.ui import chart, empty_state, marking_banner, page_to_slide

viewer = session.require_role(*RECORD_ROLES)
f = session.filters()
today = session.today()

DATE = st.column_config.DateColumn(format="YYYY-MM-DD")
SCORE = st.column_config.NumberColumn(format="%.3f")
P_VALUE = st.column_config.NumberColumn(format="%.4f")

st.title("Evaluations")
st.caption(
    f"Sidebar filters used here: {evals.FILTERS_APPLIED}. Picking UK or AU under *Reported by* leaves out "
    "public results. The other sidebar filters describe incidents and do not apply to this page."
)

summary = session.query(evals.benchmark_summary, f, today)
marking_banner(summary.marking, "all evaluation results on this page")
if summary.data.empty:
    empty_state("No evaluation results match these filters.")
    st.stop()

benchmarks = summary.data["benchmark"].tolist()
run_counts = dict(zip(summary.data["benchmark"], summary.data["runs"], strict=True))
if st.session_state.get("ev_benchmark") not in benchmarks:
    st.session_state["ev_benchmark"] = "Cybench" if "Cybench" in benchmarks else benchmarks[0]
benchmark = st.selectbox(
    "Benchmark",
    benchmarks,
    key="ev_benchmark",
    format_func=lambda b: f"{b} ({run_counts.get(b, 0)} runs)",
    help="Capability over time and run detail show this benchmark; comparison and agreement cover all.",
)

# Streamlit forgets the value of a widget that a run does not draw, and a closed tab is not drawn: re-store each
# pick as a plain session value every run so it is still there when its tab is opened again.
for _key in ("ev_models", "ev_flagged_only", "ev_run", "ev_page_size", "ev_page"):
    if _key in st.session_state:
        st.session_state[_key] = st.session_state[_key]
st.session_state.setdefault("ev_page_size", evals.SAMPLE_PAGE_SIZES[1])

tab_cap, tab_cmp, tab_agree, tab_run = st.tabs(
    ["Capability over time", "Compare models", "UK–AU agreement", "Run detail"],
    key="ev_tab",
    on_change="rerun",
)

# -- capability over time and thresholds ------------------------------------------------------------------------
if tab_cap.open:
    with tab_cap:
        cap = session.query(evals.capability_over_time, f, today, benchmark)
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
            )
            event = chart(
                cap_fig,
                key="ev_capability",
                marking=cap.marking,
                on_select="rerun",
                selection_mode="points",
            )
            picked = [p for p in (event.selection.points if event else []) if p.get("customdata")]
            # The chart keeps its selection across reruns: act on a new click only, so the run picker stays usable.
            pick = str(picked[0]["customdata"][0]) if picked else None
            if pick and pick != st.session_state.get("ev_last_pick"):
                st.session_state["ev_run"] = pick
                st.info("Run selected: open the **Run detail** tab to see it.", icon=":material/ads_click:")
            st.session_state["ev_last_pick"] = pick
        notes = ["Marker shape: ● UK, ◆ AU, ■ public. Whiskers are 95% intervals where the run reported one."]
        if cap.data.undated:
            notes.append(
                f"{cap.data.undated} scored run(s) have no model release date and are not on the chart."
            )
        if "epoch" in cap.marking.sources:
            notes.append(f"Public results: {evals.PUBLIC_CREDIT} (epoch.ai/benchmarks).")
        st.caption(" ".join(notes))
        if not cap.data.points.empty:
            page_to_slide(f"{benchmark}: capability over time", [(cap_fig, cap.marking)], key="ev_slide")

        st.subheader("Incidents of the techniques this benchmark covers")
        related = session.query(links.incidents_for_benchmark, benchmark, f, today)
        marking_banner(related.marking, f"{related.marking.rows:,} incidents in the period")
        if related.data.empty:
            st.caption(
                "No incident in the period cites a technique this benchmark is mapped to "
                "(the mapping is edited on the Threat matrix page)."
            )
        else:
            st.dataframe(
                related.data,
                hide_index=True,
                width="stretch",
                height=min(38 + 35 * len(related.data), 320),
                column_config={"occurred_on": DATE},
            )

        st.subheader("Threshold")
        if threshold:
            st.markdown(
                f"Threshold **{threshold.threshold:g}**, set by {threshold.set_by_institute} "
                f"on {threshold.set_at:%Y-%m-%d %H:%M}."
            )
            st.text(f"Set by {threshold.set_by}" + (f" · note: {threshold.note}" if threshold.note else ""))
        else:
            st.caption("No threshold is set for this benchmark.")
        if viewer.role in evals.THRESHOLD_ROLES:
            # The form starts from this benchmark's threshold (or a value on its scale), not the last one typed.
            if st.session_state.get("ev_threshold_for") != benchmark:
                st.session_state.pop("ev_threshold_value", None)
                st.session_state.pop("ev_threshold_note", None)
                st.session_state["ev_threshold_for"] = benchmark
            share = cap.data.unit == "fraction"
            typical = float(cap.data.points["score"].median()) if not cap.data.points.empty else 0.5
            with st.form("ev_threshold_form", border=True):
                c1, c2 = st.columns([1, 3])
                value = c1.number_input(
                    "Threshold score",
                    value=float(threshold.threshold) if threshold else (0.5 if share else round(typical)),
                    step=0.01 if share else 1.0,
                    format="%.3f" if share else "%.1f",
                    key="ev_threshold_value",
                )
                note = c2.text_input("Why this line (optional)", max_chars=500, key="ev_threshold_note")
                b1, b2 = st.columns([1, 5])
                save = b1.form_submit_button("Save threshold", type="primary")
                clear = b2.form_submit_button("Clear threshold", disabled=threshold is None)
            if save or clear:
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
        else:
            st.caption("Analysts and leads set thresholds; every change is audited.")

        if threshold:
            crossings = session.query(evals.threshold_crossings, f, today, benchmark, threshold.threshold)
            marking_banner(
                crossings.marking, f"{len(crossings.data.models)} models at or above the threshold"
            )
            if crossings.data.models.empty:
                empty_state("No visible model reaches this threshold under these filters.")
            else:
                c1, c2 = st.columns([3, 2])
                c1.markdown("**Models at or above the threshold**")
                c1.dataframe(
                    crossings.data.models,
                    hide_index=True,
                    width="stretch",
                    column_config={"release_date": DATE, "best_score": SCORE},
                )
                c2.markdown("**First crossing by developer** (model release date)")
                c2.dataframe(
                    crossings.data.first_by_developer,
                    hide_index=True,
                    width="stretch",
                    column_config={"first_crossed": DATE},
                )

# -- model comparison -------------------------------------------------------------------------------------------
if tab_cmp.open:
    with tab_cmp:
        options = session.query(evals.model_options, f, today)
        n_bench = dict(options)
        models = st.multiselect(
            f"Models to compare (2–{evals.MAX_COMPARED_MODELS})",
            [m for m, _ in options],
            max_selections=evals.MAX_COMPARED_MODELS,
            format_func=lambda m: f"{m} ({n_bench.get(m, 0)} benchmarks)",
            key="ev_models",
        )
        if len(models) < 2:
            empty_state("Pick two to five models to compare them on every benchmark they share.")
        else:
            comparison = session.query(evals.compare_models, f, today, tuple(models))
            marking_banner(comparison.marking, f"{len(comparison.data.scores)} runs compared")
            if comparison.data.scores.empty:
                empty_state("These models share no benchmark under these filters.")
            else:
                chart(
                    eval_charts.comparison_chart(comparison.data.scores, list(models)),
                    key="ev_comparison",
                    marking=comparison.marking,
                )
                st.markdown(
                    "**Is the difference real?** One row per pair of models on each shared benchmark."
                )
                st.dataframe(
                    comparison.data.pairs,
                    hide_index=True,
                    width="stretch",
                    column_order=[
                        "benchmark",
                        "model_a",
                        "model_b",
                        "verdict",
                        "diff",
                        "ci_low",
                        "ci_high",
                        "p_holm",
                        "test",
                        "n_paired",
                        "score_a",
                        "score_b",
                        "p",
                    ],
                    column_config={
                        "verdict": st.column_config.TextColumn("Verdict", width="medium"),
                        "score_a": SCORE,
                        "score_b": SCORE,
                        "diff": st.column_config.NumberColumn("A − B", format="%.3f"),
                        "ci_low": st.column_config.NumberColumn("95% CI low", format="%.3f"),
                        "ci_high": st.column_config.NumberColumn("95% CI high", format="%.3f"),
                        "p": P_VALUE,
                        "p_holm": st.column_config.NumberColumn("p (Holm)", format="%.4f"),
                    },
                )
                with st.expander("Scores and the runs behind them"):
                    st.dataframe(
                        comparison.data.scores,
                        hide_index=True,
                        width="stretch",
                        column_config={"score": SCORE, "ci_low": SCORE, "ci_high": SCORE, "eval_date": DATE},
                    )
                st.caption(
                    "Per model and benchmark the comparison uses one run: one with per-sample scores if any, "
                    "else the latest. Where both runs have per-sample scores for the same samples the test is "
                    "paired (McNemar's exact test for right/wrong scores, a paired bootstrap otherwise); else a "
                    "z-test from the runs' standard errors. p-values are Holm-adjusted within each benchmark; "
                    "'real difference' means adjusted p < 0.05."
                )
                if comparison.data.single:
                    st.caption(
                        f"{len(comparison.data.single)} benchmark(s) with a result for only one of these models "
                        "are not shown."
                    )
                if "epoch" in comparison.marking.sources:
                    st.caption(f"Public results: {evals.PUBLIC_CREDIT}.")

# -- cross-institute agreement ----------------------------------------------------------------------------------
if tab_agree.open:
    with tab_agree:
        agreement = session.query(evals.institute_agreement, f, today)
        marking_banner(
            agreement.marking, f"{len(agreement.data)} model/benchmark pairs run by both institutes"
        )
        data = agreement.data
        if data.empty:
            empty_state(
                "No model, benchmark and task version has been run by both UK and AU under these filters."
            )
        else:
            counts = data["status"].value_counts()
            c1, c2, c3, c4 = st.columns(4)
            c1.metric("Run by both", f"{len(data):,}")
            c2.metric("Disagree", f"{int(counts.get('disagree', 0)):,}")
            c3.metric("Check", f"{int(counts.get('check', 0)):,}")
            c4.metric("Agree", f"{int(counts.get('agree', 0)):,}")
            flagged_only = st.toggle("Show only pairs flagged for follow-up", key="ev_flagged_only")
            shown = data[data["status"].isin(["disagree", "check"])] if flagged_only else data
            if shown.empty:
                empty_state("Nothing flagged: every pair agrees within its 95% intervals.")
            else:
                chart(eval_charts.agreement_chart(shown), key="ev_agreement", marking=agreement.marking)
                st.dataframe(
                    shown,
                    hide_index=True,
                    width="stretch",
                    column_order=[
                        "status",
                        "model",
                        "benchmark",
                        "task_version",
                        "difference",
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
                    ],
                    column_config={
                        "uk_score": SCORE,
                        "uk_ci_low": SCORE,
                        "uk_ci_high": SCORE,
                        "au_score": SCORE,
                        "au_ci_low": SCORE,
                        "au_ci_high": SCORE,
                        "difference": st.column_config.NumberColumn("UK − AU", format="%.3f"),
                        "p_value": P_VALUE,
                    },
                )
            st.caption(" · ".join(f"**{k}**: {v}" for k, v in evals.AGREEMENT_STATUSES.items()))

# -- run detail -------------------------------------------------------------------------------------------------
if tab_run.open:
    with tab_run:
        runs = session.query(evals.runs_of_benchmark, f, today, benchmark)
        marking_banner(runs.marking, f"{len(runs.data):,} runs of this benchmark")
        run_ids = runs.data["run_id"].tolist()
        if not run_ids:
            empty_state("No runs of this benchmark under these filters.")
        else:
            labels = dict(zip(runs.data["run_id"], runs.data["label"], strict=True))
            if st.session_state.get("ev_run") not in labels:
                st.session_state["ev_run"] = run_ids[0]
            run_id = st.selectbox("Run", run_ids, key="ev_run", format_func=lambda r: labels.get(r, r))
            detail = session.query(evals.run_detail, run_id)
            if detail is None:
                empty_state("No such run.")
            else:
                run = detail.data.run
                marking_banner(detail.marking, "this run")
                c1, c2, c3, c4 = st.columns(4)
                c1.metric("Score", "–" if run["score"] is None else f"{run['score']:.3f}")
                c2.metric("Std. error", "–" if run["stderr"] is None else f"{run['stderr']:.3f}")
                c3.metric("Samples", f"{detail.data.samples_total:,}")
                c4.metric("Status", run["status"])
                spec = {
                    k: run[k]
                    for k in (
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
                }
                left, right = st.columns([1, 1])
                left.markdown("**Spec**")
                left.dataframe(
                    [{"field": k, "value": "" if v is None else str(v)} for k, v in spec.items()],
                    hide_index=True,
                    width="stretch",
                    height=35 * (len(spec) + 1) + 3,
                )
                right.markdown("**Metrics**")
                right.dataframe(detail.data.metrics, hide_index=True, width="stretch")
                if run["details"]:
                    with right.expander("Everything the import recorded"):
                        st.json(run["details"], expanded=False)
                if run["source"] == "epoch":
                    st.caption(f"Source: {evals.PUBLIC_CREDIT}.")
                if detail.data.samples_total:
                    st.markdown("**Per-sample scores**")
                    chart(
                        eval_charts.distribution_chart(detail.data.distribution),
                        key="ev_distribution",
                        marking=detail.marking,
                    )
                    c1, c2 = st.columns([1, 1])
                    size = c2.selectbox("Rows per page", evals.SAMPLE_PAGE_SIZES, key="ev_page_size")
                    pages = max(1, -(-detail.data.samples_total // size))
                    if (
                        st.session_state.get("ev_page_of") != run_id
                        or st.session_state.get("ev_page", 1) > pages
                    ):
                        st.session_state["ev_page"] = 1  # another run starts on its first page
                    st.session_state["ev_page_of"] = run_id
                    page = c1.number_input(f"Page (of {pages:,})", 1, pages, key="ev_page") - 1
                    samples = session.query(evals.sample_page, run_id, int(page), int(size))
                    columns = ["sample_id", "epoch", "score", "value"]
                    st.dataframe(
                        samples.data,
                        hide_index=True,
                        width="stretch",
                        column_order=[*columns, "other_scores"] if detail.data.other_scorers else columns,
                        column_config={"score": SCORE},
                    )
                    if detail.data.other_scorers:
                        st.caption(
                            f"Other scorers in this log: {len(detail.data.other_scorers)} (see other_scores)."
                        )
                elif run["status"] != "success":
                    st.caption(
                        "This run did not finish successfully, so it has no scores and counts nowhere."
                    )
                else:
                    st.caption(
                        "This run has no per-sample scores (public results report one score per model)."
                    )
