"""Threat matrix: ATLAS techniques coloured by incidents, evaluation coverage or gaps; a technique's detail."""

from functools import partial

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access import pages as access
from analytics.access.markings import combine_markings
from analytics.access.roles import RECORD_READERS
from analytics.export import table as table_export
from analytics.links import queries as links
from analytics.matrix import charts as matrix_charts
from analytics.matrix import queries as matrix
from analytics.matrix import taxonomy
from pages.ui import chart, empty_state, marking_banner, page_to_slide

viewer = session.require_role(*RECORD_READERS)
f = session.filters()
today = session.today()
con = session.cursor()

st.title("Threat matrix")
version = taxonomy.current_version(con)
st.caption(
    f"MITRE ATLAS {version or '(demo subset)'} tactics in kill-chain order; each cell is a technique. "
    "Counts follow the sidebar filters."
)

result = session.query(matrix.recompute, f, today)
data = result.data

c_mode, c_compare, c_expand = st.columns([3, 2, 3])
mode = c_mode.radio(
    "Colour by", list(matrix.MODES), format_func=matrix.MODES.__getitem__, horizontal=True, key="mx_mode"
)
compare = c_compare.selectbox(
    "Institutes",
    list(matrix.COMPARE),
    format_func=matrix.COMPARE.__getitem__,
    key="mx_compare",
    disabled=mode != "incidents",
    help="Compare who reported the incidents (incidents mode).",
)
techs = taxonomy.techniques(con)
tactics = taxonomy.tactics(con)
names = dict(zip(techs["id"], techs["name"], strict=True))
parents_with_subs = sorted({p for p in techs["parent_id"] if isinstance(p, str) and p in names})
expand_all = c_expand.toggle("Show all sub-techniques", key="mx_expand_all")
expanded = (
    parents_with_subs
    if expand_all
    else c_expand.multiselect(
        "Expand sub-techniques of",
        parents_with_subs,
        format_func=lambda t: f"{t} {names.get(t, '')}",
        key="mx_expand",
        placeholder="Parent techniques (▸ in the matrix)",
    )
)

shown_marking = (
    result.marking if mode == "incidents" else combine_markings([result.marking, data.runs_marking])
)
what = f"{data.incidents:,} incidents" + (
    "" if mode == "incidents" else " and the evaluation runs covering them"
)
marking_banner(shown_marking, what)
credits = matrix.source_credits(shown_marking)
if credits:
    st.caption("Sources: " + "; ".join(credits))

cells = data.cells
m1, m2, m3, m4 = st.columns(4)
m1.metric("Incidents matching", f"{data.incidents:,}")
m2.metric("Citing an ATLAS technique", f"{data.with_techniques:,}")
m3.metric("Techniques seen", f"{data.techniques_seen:,}")
m4.metric(
    "Gap incidents",
    f"{data.gap_incidents:,}",
    help="Incidents citing a technique that no benchmark with results you can see covers.",
)

layout = matrix_charts.matrix_layout(tactics, techs, expanded)
tactic_names = list(tactics["name"])
covered = data.covered
event = None
slide_figures = []
if tactics.empty or not layout:
    empty_state("No ATLAS taxonomy in this store yet: import it with `python -m analytics import atlas`.")
elif mode == "incidents" and compare == "separate":
    top = int(max(cells["uk"].max(), cells["au"].max(), 1))
    st.caption(matrix_charts.MODE_LEGENDS["separate"])
    for inst, column in (("UK", "uk"), ("AU", "au")):
        fig = matrix_charts.matrix_heatmap(
            layout,
            tactic_names,
            dict(zip(cells["technique_id"], cells[column], strict=True)),
            mode="incidents",
            title=f"Reported by {inst}",
            value_label=f"{inst} incidents",
            max_count=top,
        )
        slide_figures.append((fig, shown_marking))
        picked = chart(
            fig, key=f"mx_chart_{inst}", marking=shown_marking, on_select="rerun", selection_mode="points"
        )
        if picked is not None and picked.selection and picked.selection.points:
            event = picked
elif mode == "incidents" and compare == "difference":
    pairs = {
        t: (int(u), int(a)) for t, u, a in zip(cells["technique_id"], cells["uk"], cells["au"], strict=True)
    }
    fig = matrix_charts.matrix_heatmap(layout, tactic_names, {}, mode="difference", diverging=pairs)
    st.caption(matrix_charts.MODE_LEGENDS["difference"])
    slide_figures.append((fig, shown_marking))
    event = chart(fig, key="mx_chart", marking=shown_marking, on_select="rerun", selection_mode="points")
else:
    column = {"incidents": "incidents", "coverage": "n_benchmarks", "gaps": "gap_incidents"}[mode]
    fig = matrix_charts.matrix_heatmap(
        layout,
        tactic_names,
        dict(zip(cells["technique_id"], cells[column], strict=True)),
        mode=mode,
        covered=covered,
    )
    st.caption(matrix_charts.MODE_LEGENDS[mode])
    slide_figures.append((fig, shown_marking))
    event = chart(fig, key="mx_chart", marking=shown_marking, on_select="rerun", selection_mode="points")

page_to_slide(f"Threat matrix: {matrix.MODES[mode]}", slide_figures, key="mx_slide", page="matrix")

# -- the selected technique ------------------------------------------------------------------------------------
options = matrix.technique_options(con)
labels = dict(options)
if "mx_technique" not in st.session_state:
    wanted = st.query_params.get("technique")
    st.session_state["mx_technique"] = wanted if wanted in labels else None
points = event.selection.points if event is not None and event.selection else []
clicked = points[0].get("customdata", [None])[0] if points else None
if clicked and clicked in labels and clicked != st.session_state.get("mx_last_click"):
    st.session_state["mx_last_click"] = clicked
    st.session_state["mx_technique"] = clicked

st.subheader("Technique")
technique = st.selectbox(
    "Technique (or click a cell)",
    list(labels),
    format_func=labels.__getitem__,
    key="mx_technique",
    placeholder="Choose a technique",
)
if technique:
    st.query_params["technique"] = technique
elif "technique" in st.query_params:
    del st.query_params["technique"]

if technique:
    detail = taxonomy.technique_detail(con, technique)
    assert detail is not None
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown(f"**{detail.id}** · maturity: **{detail.maturity or 'not stated'}**")
        st.text(detail.name)
        if detail.parent_id:
            st.caption(f"Sub-technique of {detail.parent_id}")
            st.text(detail.parent_name or "")
        if detail.tactics:
            st.caption("Tactics: " + ", ".join(t for t, _ in detail.tactics))
            st.text(" · ".join(n for _, n in detail.tactics))
        if detail.description:
            st.text(detail.description)
        else:
            st.caption("No description in this store (import the full ATLAS release).")
        if detail.subtechniques:
            st.caption("Sub-techniques")
            st.dataframe(
                pd.DataFrame(detail.subtechniques, columns=["id", "name"]), hide_index=True, width="stretch"
            )
        st.markdown("**Mitigations**")
        mits = taxonomy.mitigations_for(con, technique)
        if mits.empty:
            st.caption("ATLAS lists no mitigations for this technique.")
        else:
            st.dataframe(
                mits[["name", "use", "id", "via"]],
                hide_index=True,
                width="stretch",
                column_config={
                    "name": st.column_config.TextColumn("mitigation", width="medium"),
                    "use": st.column_config.TextColumn("how it applies", width="large"),
                    "via": st.column_config.TextColumn("listed for"),
                },
            )
    with right:
        incs = session.query(links.incidents_for_technique, f, today, technique)
        st.markdown(f"**Matching incidents** ({incs.marking.rows:,})")
        marking_banner(incs.marking)
        if incs.data.empty:
            st.caption("No incident matching the filters cites this technique.")
        else:
            shown = incs.data.assign(techniques=incs.data["techniques"].map(", ".join))
            picked = st.dataframe(
                shown[
                    ["id", "occurred_on", "title", "originator", "category", "source", "tlp", "techniques"]
                ],
                hide_index=True,
                width="stretch",
                height=280,
                on_select="rerun",
                selection_mode="single-row",
                key="mx_incidents",
                column_config={
                    "occurred_on": st.column_config.DateColumn("date"),
                    "title": st.column_config.TextColumn("title", width="large"),
                },
            )
            if incs.marking.rows > len(incs.data):
                st.caption(f"Newest {len(incs.data):,} shown; narrow the filters for the rest.")
            rows = picked.selection.rows if picked is not None and picked.selection else []
            explorer_open = any(p.path == "pages/explorer.py" for p in access.pages_for(viewer.role))
            if rows and explorer_open:
                iid = str(shown.iloc[rows[0]]["id"])
                st.page_link(
                    "pages/explorer.py",
                    label=f"Open {iid} in the incident explorer",
                    icon=":material/open_in_new:",
                    query_params={"incident": iid},
                )
            elif explorer_open:
                st.caption("Select a row to open the incident in the explorer.")

        evals = session.query(links.evaluations_for_technique, technique)
        st.markdown("**Evaluations mapped to this technique**")
        with_runs = evals.data[evals.data["runs"] > 0]
        if with_runs.empty:
            st.caption("No benchmark with results you can see is mapped to this technique: a gap.")
        else:
            marking_banner(evals.marking, "evaluation runs")
            st.dataframe(
                with_runs.assign(mapped_to=with_runs["mapped_to"].map(", ".join)),
                hide_index=True,
                width="stretch",
                column_order=[
                    "benchmark",
                    "latest_score",
                    "trend",
                    "latest_model",
                    "latest_date",
                    "latest_institute",
                    "best_score",
                    "runs",
                    "mapped_to",
                ],
                column_config={
                    "latest_model": st.column_config.TextColumn("latest model"),
                    "latest_institute": st.column_config.TextColumn("run by"),
                    "mapped_to": st.column_config.TextColumn("mapped to"),
                    "latest_score": st.column_config.NumberColumn("latest score", format="%.2f"),
                    "best_score": st.column_config.NumberColumn("best score", format="%.2f"),
                    "latest_date": st.column_config.DateColumn("latest run"),
                    "trend": st.column_config.LineChartColumn("scores over time", y_min=0, y_max=1),
                },
            )
        no_runs = evals.data[evals.data["runs"] == 0]
        if not no_runs.empty:
            st.caption("Also mapped, no results you can see: " + ", ".join(sorted(no_runs["benchmark"])))

# -- the mapping ------------------------------------------------------------------------------------------------
with st.expander("Benchmark → technique mapping", icon=":material/link:"):
    st.caption(
        "Which ATLAS techniques each benchmark exercises. Coverage and gaps follow this mapping; "
        "a mapping to a technique also covers its sub-techniques. Every change is recorded."
    )
    mapping = session.query(links.benchmark_mapping)
    view = mapping if not technique else mapping[mapping["technique_id"].str[:9] == technique[:9]]
    st.dataframe(
        view[["benchmark", "technique_id", "technique", "rationale", "origin", "added_by", "visible_runs"]],
        hide_index=True,
        width="stretch",
    )
    if technique:
        st.caption(
            f"Showing mappings for {technique[:9]} and its sub-techniques; clear the technique for all."
        )
    known = session.query(links.known_benchmarks)
    with st.form("mx_add_mapping", clear_on_submit=True, border=False):
        a1, a2 = st.columns(2)
        bench = a1.selectbox(
            "Benchmark",
            known,
            index=None,
            accept_new_options=True,
            key="mx_map_bench",
            placeholder="Choose or type",
        )
        target = a2.selectbox(
            "Technique",
            list(labels),
            index=list(labels).index(technique) if technique else None,
            format_func=labels.__getitem__,
            key="mx_map_tech",
        )
        why = st.text_input(
            "Why (what the benchmark measures about this technique)", max_chars=500, key="mx_map_why"
        )
        if st.form_submit_button("Add mapping", icon=":material/add_link:"):
            try:
                if not bench or not target:
                    raise ValueError("choose a benchmark and a technique")
                with session.store().transaction() as tx:
                    links.add_mapping(tx, viewer, str(bench), str(target), why)
                st.toast(f"Mapped {bench} to {target}")
                st.rerun()
            except ValueError as e:
                st.warning(str(e))
    if not view.empty:
        r1, r2 = st.columns([3, 1], vertical_alignment="bottom")
        mapped_pairs = [f"{b} → {t}" for b, t in zip(view["benchmark"], view["technique_id"], strict=True)]
        gone = r1.selectbox("Remove a mapping", mapped_pairs, index=None, key="mx_unmap")
        if r2.button("Remove", icon=":material/link_off:", disabled=gone is None):
            b, t = str(gone).rsplit(" → ", 1)
            try:
                with session.store().transaction() as tx:
                    links.remove_mapping(tx, viewer, b, t)
                st.toast(f"Removed {gone}")
                st.rerun()
            except ValueError as e:
                st.warning(str(e))
    history = session.query(links.mapping_history)
    if not history.empty:
        st.caption("Recent changes")
        st.dataframe(history, hide_index=True, width="stretch")

st.download_button(
    "Download matrix (CSV)",
    # built (escaped) and audited only when clicked, like every export
    data=partial(
        table_export.matrix_csv, session.store(), viewer, data, names, shown_marking, f, today, mode
    ),
    file_name=f"threat-matrix_{shown_marking.short}.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
    key="mx_csv",
)
