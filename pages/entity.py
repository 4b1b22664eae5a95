"""Entity page: everything the records say about one model, developer, sector, actor type, ATLAS technique or
benchmark — its incidents, evaluation runs, assessments, a timeline and the entities it shares records with — as
OpenCTI's entity pages gather it (issue 20).

The entity is in the address (`entity?kind=technique&id=AML.T0051`), so a page can be linked and shared; the kind
comes from the allow-list in `analytics.entities.kinds`. `main()` draws the page, one function per section; the
data is `analytics.entities.queries`' (viewer-scoped, every result marked), the figure
`analytics.entities.charts`'.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access import pages as access
from analytics.access.roles import ASSESSMENT_AUTHORS, RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.entities import charts as entity_charts
from analytics.entities import queries as entities
from analytics.entities.kinds import KINDS, EntityError, EntityRef, parse_entity
from analytics.entities.queries import EntityOverview
from analytics.matrix import taxonomy
from analytics.wording import counted
from pages.parts import incident_detail
from pages.parts.entity_links import ICONS, entity_links, technique_label
from pages.ui import chart, empty_state, inert_markdown, marking_banner

TABS = ["Incidents", "Evaluations", "Assessments", "Related"]
RELATED_LABELS = {
    "technique": "ATLAS techniques",
    "model": "Models and systems",
    "developer": "Developers",
    "actor": "Actor types",
    "sector": "Sectors",
    "benchmark": "Benchmarks",
}


def main() -> None:
    viewer = session.require_role(*RECORD_READERS)
    ref = _address()
    if ref is None:
        return
    over = session.query(entities.overview, ref.kind, ref.id)
    if over is None:
        st.title(KINDS[ref.kind].label)
        st.warning(
            f"No {KINDS[ref.kind].noun} with this name in the records you may see.",
            icon=":material/search_off:",
        )
        _picker(ref.kind)
        return
    heading(over)
    if ref.kind == "technique":
        about_technique(ref.id)
    timeline(over)
    incidents_tab_, evals_tab, assess_tab, related_tab = st.tabs(TABS, key="en_tab", on_change="rerun")
    if incidents_tab_.open:
        with incidents_tab_:
            incidents_section(ref)
    if evals_tab.open:
        with evals_tab:
            evaluations_section(ref)
    if assess_tab.open:
        with assess_tab:
            assessments_section(viewer, ref)
    if related_tab.open:
        with related_tab:
            related_section(ref)
    opened = st.session_state.get("en_incident")
    if opened and opened[:2] == (ref.kind, ref.id):  # chosen on this entity's page, not on the one before
        show_incident(str(opened[2]))
    elif opened:
        del st.session_state["en_incident"]


def _address() -> EntityRef | None:
    """The entity named in the address, or None after saying what is wrong and offering a choice."""
    kind, ident = st.query_params.get("kind"), st.query_params.get("id")
    if not kind and not ident:
        st.title("Entities")
        st.caption(
            "A page for one model, developer, sector, actor type, ATLAS technique or benchmark: its incidents, "
            "evaluations, assessments and timeline. Every link in an incident's or a technique's detail leads here."
        )
        _picker("technique")
        index()
        return None
    try:
        return parse_entity(kind, ident)
    except EntityError as e:
        st.title("Entities")
        st.error(f"Cannot open this entity: {e}.", icon=":material/link_off:")
        _picker(kind if kind in KINDS else "technique")
        return None


def _picker(kind: str) -> None:
    """Open an entity by kind and name (or ATLAS id)."""
    with st.form("en_pick", border=True):
        k_col, id_col = st.columns([2, 3])
        chosen = k_col.selectbox(
            "Kind", list(KINDS), index=list(KINDS).index(kind), format_func=lambda k: KINDS[k].label
        )
        ident = id_col.text_input("Name or ATLAS id", max_chars=200, placeholder="e.g. AML.T0051 or Onyx-1.2")
        if st.form_submit_button("Open", icon=":material/open_in_new:"):
            st.query_params.update({"kind": chosen, "id": ident})
            st.rerun()


def heading(over: EntityOverview) -> None:
    """The entity's kind and name, what the viewer may see of it and when."""
    kind = KINDS[over.kind]
    st.title(f"{inert_markdown(over.name)}", anchor=False)
    st.caption(f"{kind.label} · {inert_markdown(over.id)}")
    marking_banner(over.marking, f"{counted(over.incidents + over.runs, 'record')} behind this page")
    st.caption(
        "Every record you may see, whatever the sidebar filters: a shared link shows the same to everyone "
        "cleared for the same records."
    )
    inc, runs, first, last = st.columns(4)
    inc.metric("Incidents", f"{over.incidents:,}")
    runs.metric("Evaluation runs", f"{over.runs:,}" if kind.runs else "—", help=_runs_help(over.kind))
    first.metric("First seen", over.first_seen.isoformat() if over.first_seen else "—")
    last.metric("Last seen", over.last_seen.isoformat() if over.last_seen else "—")


def _runs_help(kind: str) -> str:
    if kind == "technique":
        return "Runs of the benchmarks mapped to this technique (Threat matrix → benchmark mapping)."
    if kind == "benchmark":
        return "Runs of this benchmark under any spelling of its name (inspect_evals/x, X, x_y meet)."
    if not KINDS[kind].runs:
        return "Evaluation runs name no " + KINDS[kind].noun + "."
    return "Successful runs you may see."


def about_technique(technique_id: str) -> None:
    """ATLAS's own description (public reference data): tactics, parent and sub-techniques, each a link."""
    con = session.cursor()
    detail = taxonomy.technique_detail(con, technique_id)
    if detail is None:
        st.caption("This ATLAS id is not in this store's taxonomy (retired or unknown).")
        return
    names = entities.technique_full_names(con)
    with st.expander("About this technique (MITRE ATLAS)", icon=":material/menu_book:"):
        st.caption("Tactics: " + (" · ".join(n for _, n in detail.tactics) or "—"))
        if detail.removed_in:
            st.caption(f"Retired in ATLAS {detail.removed_in}")
        st.text(detail.description or "No description in this store (import the full ATLAS release).")
        if detail.parent_id:
            st.caption("Sub-technique of")
            entity_links([("technique", detail.parent_id, technique_label(detail.parent_id, names))])
        if detail.subtechniques:
            st.caption("Sub-techniques")
            entity_links([("technique", sid, technique_label(sid, names)) for sid, _ in detail.subtechniques])
    if access.page_at("matrix", session.viewer().role) is not None:
        st.page_link(
            "pages/matrix.py",
            label="Show in the threat matrix",
            icon=ICONS["technique"],
            query_params={"technique": technique_id},
        )


def timeline(over: EntityOverview) -> None:
    data = session.query(entities.timeline, over.kind, over.id)
    if data.data.empty:
        return
    chart(
        entity_charts.timeline_chart(data.data, over.name),
        key="en_timeline",
        marking=data.marking,
        export_filters=f"{KINDS[over.kind].label} {over.id}",
    )


def incidents_section(ref: EntityRef) -> None:
    """The entity's incidents, newest first; choosing a row opens the incident's detail over the page."""
    rows = session.query(entities.incidents, ref.kind, ref.id)
    marking_banner(rows.marking, counted(rows.marking.rows, "incident"))
    if rows.data.empty:
        empty_state("No incident you may see names this " + KINDS[ref.kind].noun + ".")
        return
    note = (
        f"Newest {len(rows.data):,} of {rows.marking.rows:,}. " if rows.marking.rows > len(rows.data) else ""
    )
    st.caption(note + "Choose a row to open the incident.")
    gen = st.session_state.get("en_gen", 0)
    event = st.dataframe(
        rows.data,
        hide_index=True,
        width="stretch",
        height=min(36 * (len(rows.data) + 1) + 2, 460),
        on_select="rerun",
        selection_mode="single-row",
        key=f"en_incidents_{gen}_{ref.kind}_{ref.id}",  # another entity's table starts with no row chosen
        column_config={
            "id": "Id",
            "occurred_on": st.column_config.DateColumn("Date"),
            "title": st.column_config.TextColumn("Title", width="large"),
            "originator": "By",
            "category": "Category",
            "severity": st.column_config.NumberColumn("Severity", format="%d"),
            "affected_system": "Affected system",
            "developer": "Developer",
            "tlp": "TLP",
        },
    )
    chosen = getattr(getattr(event, "selection", None), "rows", None) or []
    if chosen and 0 <= chosen[0] < len(rows.data):
        st.session_state["en_incident"] = (ref.kind, ref.id, str(rows.data.iloc[chosen[0]]["id"]))


def _closed() -> None:
    st.session_state.pop("en_incident", None)
    st.session_state["en_gen"] = st.session_state.get("en_gen", 0) + 1  # a fresh table: no row chosen


@st.dialog("Incident", width="large", on_dismiss=_closed)
def show_incident(incident: str) -> None:
    """The incident's detail over the entity page, where the eye is."""
    incident_detail.show(incident)
    if st.button("Close", icon=":material/close:", key="en_close"):
        _closed()
        st.rerun()


def evaluations_section(ref: EntityRef) -> None:
    runs = session.query(entities.evaluations, ref.kind, ref.id)
    if not KINDS[ref.kind].runs:
        st.caption(f"Evaluation runs name no {KINDS[ref.kind].noun}; see the incidents.")
        return
    marking_banner(runs.marking, counted(runs.marking.rows, "evaluation run"))
    if runs.data.empty:
        empty_state("No successful evaluation run you may see covers this " + KINDS[ref.kind].noun + ".")
        return
    if ref.kind == "technique":
        st.caption("Runs of the benchmarks mapped to this technique or its parent or sub-techniques.")
    st.dataframe(
        runs.data,
        hide_index=True,
        width="stretch",
        column_config={
            "run_id": "Run",
            "eval_date": st.column_config.DateColumn("Evaluated"),
            "model": "Model",
            "model_developer": "Developer",
            "benchmark": "Benchmark",
            "metric": "Metric",
            "score": st.column_config.NumberColumn("Score", format="%.3f"),
            "institute": "By",
            "tlp": "TLP",
        },
    )
    if runs.marking.rows > len(runs.data):
        st.caption(f"Newest {len(runs.data):,} of {runs.marking.rows:,}.")


def assessments_section(viewer: Viewer, ref: EntityRef) -> None:
    """Assessments citing the entity's records, each a link to read it."""
    rows = session.query(entities.assessments, ref.kind, ref.id)
    marking_banner(rows.marking, "assessments citing these records")
    if rows.data.empty:
        st.caption("No assessment you may read cites this " + KINDS[ref.kind].noun + "'s records.")
        return
    page = "pages/assessments.py" if viewer.role in ASSESSMENT_AUTHORS else "pages/assessments_read.py"
    for aid, title, status, version in zip(
        rows.data["id"], rows.data["title"], rows.data["status"], rows.data["version"], strict=True
    ):
        st.page_link(
            page,
            label=f"{inert_markdown(title)} — {str(status).replace('_', ' ')}, version {int(version)}",
            icon=":material/edit_note:",
            query_params={"a": str(int(aid))},
        )


def index() -> None:
    """The entities named by the most records the viewer may see, each a link to its page."""
    top = session.query(entities.most_recorded)
    st.subheader("Most recorded", anchor=False)
    marking_banner(top.marking, "the records these are counted over")
    _entity_groups(top.data, "Nothing recorded that you may see.")


def related_section(ref: EntityRef) -> None:
    """The entities this one shares records with, each a link to its page."""
    rel = session.query(entities.related, ref.kind, ref.id)
    marking_banner(rel.marking, "the records these are counted over")
    _entity_groups(rel.data, "Nothing shares records with it that you may see.")


def _entity_groups(df: pd.DataFrame, empty: str) -> None:
    """Entities grouped by kind and by the records counted (incidents or runs), each with its count."""
    if df.empty:
        st.caption(empty)
        return
    names = entities.technique_full_names(session.cursor())
    for (kind, via), part in df.groupby(["kind", "via"], sort=False):
        st.markdown(f"**{RELATED_LABELS[str(kind)]}** (counted in {via})")
        entity_links([(str(kind), str(i), _label(str(kind), str(i), int(n), names)) for i, n in _pairs(part)])


def _pairs(part: pd.DataFrame) -> list[tuple[Any, Any]]:
    return list(zip(part["id"], part["records"], strict=True))


def _label(kind: str, ident: str, n: int, names: dict[str, str]) -> str:
    name = technique_label(ident, names) if kind == "technique" else ident
    return f"{name} ({n:,})"


main()
