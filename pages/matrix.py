"""Threat matrix: ATLAS techniques coloured by incidents, evaluation coverage or gaps; a technique's detail.

`main()` draws the page: one function per section. The data is `analytics.matrix.queries`' and
`analytics.links.queries`' (cached per viewer by `session.query`); the figures are `analytics.matrix.charts`';
the CSV is `analytics.export.table.matrix_csv` (escaped and audited when clicked).
"""

from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics import session
from analytics.access import pages as access
from analytics.access.markings import Marking, combine_markings
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.entities import queries as entities
from analytics.export import table as table_export
from analytics.filters import Filters
from analytics.incidents.charts import COMPARISON_SCOPE
from analytics.links import queries as links
from analytics.matrix import charts as matrix_charts
from analytics.matrix import queries as matrix
from analytics.matrix import taxonomy
from analytics.matrix.queries import MatrixData
from analytics.sources import source_credits
from analytics.wording import counted
from pages.parts.currency import currency_line
from pages.parts.entity_links import entity_links, technique_label
from pages.ui import chart, empty_state, marking_banner, metric_row, page_to_slide


@dataclass(frozen=True)
class Taxonomy:
    """The current ATLAS release as the page draws it."""

    techniques: pd.DataFrame
    tactics: pd.DataFrame
    names: dict[str, str]  # technique id -> name


@dataclass(frozen=True)
class Choice:
    """What the person chose above the matrix."""

    mode: str  # a key of matrix.MODES
    compare: str  # a key of matrix.COMPARE (incidents mode)
    expanded: list[str]  # parents whose sub-techniques are shown


def main() -> None:
    viewer = session.require_role(*RECORD_READERS)
    f = session.filters()
    today = session.today()
    con = session.cursor()

    st.title("Threat matrix")
    currency_line()
    version = taxonomy.current_version(con)
    st.caption(
        f"MITRE ATLAS {version or '(demo subset)'} tactics in kill-chain order; each cell is a technique. "
        "Counts follow the sidebar filters."
    )
    result = session.query(matrix.recompute, f, today)
    tax = _taxonomy(con)
    choice = _controls(tax)
    shown = _marking(result.marking, result.data, choice.mode)
    _headline(result.data)
    event = _heatmaps(result.data, tax, choice, shown)
    labels = dict(matrix.technique_options(con))
    technique = _technique_picker(labels, event)
    if technique:
        _technique_dialog(con, viewer, f, today, technique)  # over the matrix, where the click was (issue 20)
    with st.expander("Benchmark → technique mapping", icon=":material/link:"):
        _mapping(viewer, labels, technique)
    _download(viewer, result.data, tax.names, shown, f, today, choice.mode)


def _taxonomy(con: duckdb.DuckDBPyConnection) -> Taxonomy:
    techs = taxonomy.techniques(con)
    return Taxonomy(techs, taxonomy.tactics(con), dict(zip(techs["id"], techs["name"], strict=True)))


def _controls(tax: Taxonomy) -> Choice:
    # Two rows: in one row of three at 1024 px the institute choice read "All reporting (" and the expand
    # box's placeholder was cut off.
    c_mode, c_compare = st.columns(2)
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
    parents = sorted({p for p in tax.techniques["parent_id"] if isinstance(p, str) and p in tax.names})
    c_toggle, c_expand = st.columns([2, 3], vertical_alignment="bottom")
    expand_all = c_toggle.toggle("Show all sub-techniques", key="mx_expand_all")
    expanded = (
        parents
        if expand_all
        else c_expand.multiselect(
            "Expand sub-techniques of",
            parents,
            format_func=lambda t: f"{t} {tax.names.get(t, '')}",
            key="mx_expand",
            placeholder="Parent techniques (▸ in the matrix)",
        )
    )
    return Choice(str(mode), str(compare), list(expanded))


def _marking(incidents_marking: Marking, data: MatrixData, mode: str) -> Marking:
    """The marking of what is shown: the incidents', and in coverage and gap modes the evaluation runs' too."""
    shown = (
        incidents_marking if mode == "incidents" else combine_markings([incidents_marking, data.runs_marking])
    )
    what = f"{counted(data.incidents, 'incident')}" + (
        "" if mode == "incidents" else " and the evaluation runs covering them"
    )
    marking_banner(shown, what)
    credits = source_credits(shown)
    if credits:
        st.caption("Sources: " + "; ".join(credits))
    return shown


def _headline(data: MatrixData) -> None:
    m1 = m2 = m3 = m4 = metric_row()  # wraps on a narrow screen rather than truncate the labels
    m1.metric("Incidents matching", f"{data.incidents:,}")
    m2.metric("Citing an ATLAS technique", f"{data.with_techniques:,}")
    m3.metric("Techniques seen", f"{data.techniques_seen:,}")
    m4.metric(
        "Gap incidents",
        f"{data.gap_incidents:,}",
        help="Incidents citing a technique that no benchmark with results you can see covers, including "
        "those citing an ATLAS id retired by a later release or unknown to this store's taxonomy.",
    )
    _flagged(data)


def _flagged(data: MatrixData) -> None:
    """Retired or unknown technique ids the matching incidents cite: counted as gaps, listed so an analyst can
    map them onto current techniques (they have no cell in the current matrix)."""
    flagged = data.flagged
    if flagged.empty:
        return
    st.warning(
        f"{int(flagged['incidents'].sum()):,} citations of {len(flagged):,} ATLAS technique ids that are retired "
        "or unknown to this store's taxonomy: they have no cell, and their incidents count as gap incidents "
        "(no evaluation can cover a technique ATLAS no longer defines).",
        icon=":material/flag:",
    )
    with st.expander("Retired and unknown technique ids", icon=":material/flag:"):
        st.dataframe(
            flagged,
            hide_index=True,
            width="stretch",
            column_config={
                "technique_id": "Technique id",
                "name": "Name (when ATLAS defined it)",
                "removed_in": "Retired in ATLAS",
                "status": "Status",
                "incidents": st.column_config.NumberColumn("Incidents", format="%d"),
                "uk": st.column_config.NumberColumn("UK", format="%d"),
                "au": st.column_config.NumberColumn("AU", format="%d"),
                "public": st.column_config.NumberColumn("Public sources", format="%d"),
            },
        )


def _heatmaps(data: MatrixData, tax: Taxonomy, choice: Choice, shown: Marking) -> Any:
    """The matrix (UK, AU and public sources apart when comparing who reported) and its slide; returns the
    click, if any."""
    layout = matrix_charts.matrix_layout(tax.tactics, tax.techniques, choice.expanded)
    if tax.tactics.empty or not layout:
        empty_state("No ATLAS taxonomy in this store yet: import it with `python -m analytics import atlas`.")
        page_to_slide(f"Threat matrix: {matrix.MODES[choice.mode]}", [], key="mx_slide", page="matrix")
        return None
    tactic_names = list(tax.tactics["name"])
    cells = data.cells
    figures: list[tuple[go.Figure, str]] = []  # figure, chart key
    if choice.mode == "incidents" and choice.compare == "separate":
        top = int(max(cells["uk"].max(), cells["au"].max(), cells["public"].max(), 1))
        st.caption(matrix_charts.MODE_LEGENDS["separate"])
        st.caption(COMPARISON_SCOPE)
        # Public sources are a matrix of their own, never part of UK or AU (drawn only when any match).
        splits = [("UK", "Reported by UK", "UK incidents"), ("AU", "Reported by AU", "AU incidents")]
        if int(cells["public"].sum()):
            splits.append(("public", "Public sources", "public incidents"))
        for key, title, value_label in splits:
            fig = matrix_charts.matrix_heatmap(
                layout,
                tactic_names,
                dict(zip(cells["technique_id"], cells[key.lower()], strict=True)),
                mode="incidents",
                title=title,
                value_label=value_label,
                max_count=top,
            )
            figures.append((fig, f"mx_chart_{key}"))
    elif choice.mode == "incidents" and choice.compare == "difference":
        pairs = {
            t: (int(u), int(a))
            for t, u, a in zip(cells["technique_id"], cells["uk"], cells["au"], strict=True)
        }
        fig = matrix_charts.matrix_heatmap(layout, tactic_names, {}, mode="difference", diverging=pairs)
        st.caption(matrix_charts.MODE_LEGENDS["difference"])
        st.caption(COMPARISON_SCOPE)
        figures.append((fig, "mx_chart"))
    else:
        column = {"incidents": "incidents", "coverage": "n_benchmarks", "gaps": "gap_incidents"}[choice.mode]
        fig = matrix_charts.matrix_heatmap(
            layout,
            tactic_names,
            dict(zip(cells["technique_id"], cells[column], strict=True)),
            mode=choice.mode,
            covered=data.covered,
        )
        st.caption(matrix_charts.MODE_LEGENDS[choice.mode])
        figures.append((fig, "mx_chart"))
    event = None
    gen = st.session_state.get("mx_gen", 0)  # a new key after the detail closes: the old click is forgotten
    for fig, key in figures:
        picked = chart(fig, key=f"{key}_{gen}", marking=shown, on_select="rerun", selection_mode="points")
        if len(figures) == 1 or (picked is not None and picked.selection and picked.selection.points):
            event = picked
    page_to_slide(
        f"Threat matrix: {matrix.MODES[choice.mode]}",
        [(fig, shown) for fig, _ in figures],
        key="mx_slide",
        page="matrix",
    )
    return event


def _technique_picker(labels: dict[str, str], event: Any) -> str | None:
    """The technique in detail: a clicked cell, the `technique` of a link, or the one chosen here."""
    if st.session_state.pop("mx_closing", False):  # the detail's Close button (before the widget exists)
        _technique_closed()
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
    return technique


def _technique_closed() -> None:
    """The detail was dismissed: no technique chosen, and the clicked cell forgotten so it does not reopen."""
    st.session_state["mx_technique"] = None
    st.session_state["mx_last_click"] = None
    st.session_state["mx_gen"] = st.session_state.get("mx_gen", 0) + 1
    if "technique" in st.query_params:
        del st.query_params["technique"]


@st.dialog("Technique", width="large", on_dismiss=_technique_closed)
def _technique_dialog(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date, technique: str
) -> None:
    """The technique's detail in a dialog over the matrix, with a link to its entity page."""
    _technique_detail(con, viewer, f, today, technique)
    if st.button("Close", icon=":material/close:", key="mx_close"):
        st.session_state["mx_closing"] = True
        st.rerun()


def _technique_detail(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date, technique: str
) -> None:
    names = entities.technique_full_names(con)
    entity_links(
        [
            (
                "technique",
                technique,
                f"All about {technique_label(technique, names)}: incidents, evaluations, "
                "assessments, timeline",
            )
        ]
    )
    left, right = st.columns([2, 3], gap="large")
    with left:
        _about_technique(con, technique)
    with right:
        _incidents_citing(viewer, f, today, technique)
        _evaluations_covering(technique)


def _about_technique(con: duckdb.DuckDBPyConnection, technique: str) -> None:
    """ATLAS's own description of the technique (public reference data) and its mitigations."""
    detail = taxonomy.technique_detail(con, technique)
    assert detail is not None
    names = entities.technique_full_names(con)
    st.markdown(f"**{detail.id}** · maturity: **{detail.maturity or 'not stated'}**")
    st.text(
        names.get(detail.id, detail.name)
    )  # a sub-technique with its parent's name, never a bare "Indirect"
    if detail.parent_id:
        st.caption("Sub-technique of")
        entity_links([("technique", detail.parent_id, technique_label(detail.parent_id, names))])
    if detail.tactics:
        st.caption("Tactics: " + ", ".join(t for t, _ in detail.tactics))
        st.text(" · ".join(n for _, n in detail.tactics))
    if detail.description:
        st.text(detail.description)
    else:
        st.caption("No description in this store (import the full ATLAS release).")
    if detail.subtechniques:
        st.caption("Sub-techniques")
        entity_links([("technique", sid, technique_label(sid, names)) for sid, _ in detail.subtechniques])
    st.markdown("**Mitigations**")
    mits = taxonomy.mitigations_for(con, technique)
    if mits.empty:
        st.caption("ATLAS lists no mitigations for this technique.")
        return
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


def _incidents_citing(viewer: Viewer, f: Filters, today: date, technique: str) -> None:
    """The matching incidents that cite the technique, each a link into the explorer."""
    incs = session.query(links.incidents_for_technique, f, today, technique)
    st.markdown(f"**Matching incidents** ({incs.marking.rows:,})")
    marking_banner(incs.marking)
    if incs.data.empty:
        st.caption("No incident matching the filters cites this technique.")
        return
    shown = incs.data.assign(techniques=incs.data["techniques"].map(", ".join))
    picked = st.dataframe(
        shown[["id", "occurred_on", "title", "originator", "category", "source", "tlp", "techniques"]],
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
    explorer_open = access.page_at("explorer", viewer.role) is not None
    if rows and explorer_open:
        incident_id = str(shown.iloc[rows[0]]["id"])
        st.page_link(
            "pages/explorer.py",
            label=f"Open {incident_id} in the incident explorer",
            icon=":material/open_in_new:",
            query_params={"incident": incident_id},
        )
    elif explorer_open:
        st.caption("Select a row to open the incident in the explorer.")


def _evaluations_covering(technique: str) -> None:
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
    if not with_runs.empty:
        st.caption("Open a benchmark")
        entity_links([("benchmark", str(b), str(b)) for b in with_runs["benchmark"]])
    no_runs = evals.data[evals.data["runs"] == 0]
    if not no_runs.empty:
        st.caption("Also mapped, no results you can see: " + ", ".join(sorted(no_runs["benchmark"])))


def _mapping(viewer: Viewer, labels: dict[str, str], technique: str | None) -> None:
    """The benchmark -> technique mapping (for the chosen technique's family, or all), its edits and history."""
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
    _add_mapping(viewer, labels, technique)
    if not view.empty:
        _remove_mapping(viewer, view)
    history = session.query(links.mapping_history)
    if not history.empty:
        st.caption("Recent changes")
        st.dataframe(history, hide_index=True, width="stretch")


def _add_mapping(viewer: Viewer, labels: dict[str, str], technique: str | None) -> None:
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


def _remove_mapping(viewer: Viewer, view: pd.DataFrame) -> None:
    r1, r2 = st.columns([3, 1], vertical_alignment="bottom")
    mapped_pairs = [f"{b} → {t}" for b, t in zip(view["benchmark"], view["technique_id"], strict=True)]
    gone = r1.selectbox("Remove a mapping", mapped_pairs, index=None, key="mx_unmap")
    if r2.button("Remove", icon=":material/link_off:", disabled=gone is None):
        benchmark, technique_id = str(gone).rsplit(" → ", 1)
        try:
            with session.store().transaction() as tx:
                links.remove_mapping(tx, viewer, benchmark, technique_id)
            st.toast(f"Removed {gone}")
            st.rerun()
        except ValueError as e:
            st.warning(str(e))


def _download(
    viewer: Viewer,
    data: MatrixData,
    names: dict[str, str],
    shown: Marking,
    f: Filters,
    today: date,
    mode: str,
) -> None:
    st.download_button(
        "Download matrix (CSV)",
        # built (escaped) and audited only when clicked, like every export
        data=partial(table_export.matrix_csv, session.store(), viewer, data, names, shown, f, today, mode),
        file_name=f"threat-matrix_{shown.short}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key="mx_csv",
    )


main()
