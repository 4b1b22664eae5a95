"""One incident as its detail shows it, wherever it opens (the explorer's dialog, an entity page's dialog): every
field, and every related thing a link to pivot on — its model, developer, actor type, sectors and techniques (to
their entity pages), related incidents, and the benchmarks and models of its linked evaluations.

Why a part: the explorer and the entity pages open the same detail. The data is
`analytics.incidents.explorer.incident_detail` and `analytics.links.queries.evaluations_for_incident`, both scoped
to the viewer: an id the viewer may not see gets the same answer as one that does not exist.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access.markings import Marking
from analytics.entities import queries as entities
from analytics.incidents import explorer as incident_explorer
from analytics.links import queries as links
from analytics.vocab import SEVERITY_LABELS
from pages.parts.entity_links import entity_links, incident_link, technique_label
from pages.ui import marking_banner


def show(incident: str) -> bool:
    """Draw the incident's detail; False (after saying so) when there is no such incident for this viewer."""
    detail = session.query(incident_explorer.incident_detail, incident)
    if detail is None:
        st.warning("No incident with this id.", icon=":material/search_off:")
        st.text(f"Requested: {incident[:100]}")
        return False
    r = detail.record
    names = entities.technique_full_names(session.cursor())
    marking_banner(detail.marking, "this incident")
    st.subheader(str(r["id"]), anchor=False)
    st.text(str(r["title"]))
    _pivots(r)
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Summary**")
        st.text(str(r["summary"] or "–"))
        st.markdown("**ATLAS techniques**")
        techniques = detail.techniques
        if techniques.empty:
            st.caption("No techniques recorded.")
        for tid, tactics in zip(techniques["technique_id"], techniques["tactics"], strict=True):
            entity_links([("technique", str(tid), technique_label(str(tid), names))])
            if tactics:
                st.caption(f"Tactics: {tactics}")
    with right:
        fields = detail_fields(r)
        st.dataframe(
            pd.DataFrame({"Field": list(fields), "Value": list(fields.values())}),
            hide_index=True,
            width="stretch",
            height=35 * (len(fields) + 1) + 3,
        )
    _related(detail.related.data, detail.related.marking)
    _linked_evaluations(incident)
    return True


def _pivots(r: dict[str, Any]) -> None:
    """The incident's model, developer, actor type and sectors, each a link to its entity page."""
    sectors = [("sector", str(s), f"Sector: {s}") for s in r["sectors"]]
    items = [
        ("model", r["affected_system"], f"Model or system: {r['affected_system']}"),
        ("developer", r["developer"], f"Developer: {r['developer']}"),
        ("actor", r["actor_type"], f"Actor: {r['actor_type']}"),
    ]
    entity_links([(k, str(i), lbl) for k, i, lbl in items if _present(i)] + sectors)


def _present(v: Any) -> bool:
    return v is not None and not (not isinstance(v, str) and pd.isna(v)) and bool(str(v).strip())


def detail_fields(r: dict[str, Any]) -> dict[str, str]:
    """Every field of the record, labelled and shown as text."""
    fields = {
        "Occurred": r["occurred_on"],
        "Reported": r["reported_on"],
        "Reported by": r["originator"],
        "Source": r["source"],
        "Category": r["category"],
        "Severity": f"{r['severity']} {SEVERITY_LABELS.get(int(r['severity']), '')}",
        "Actor type": r["actor_type"],
        "Sectors": ", ".join(map(str, r["sectors"])),
        "Countries": ", ".join(map(str, r["countries"])),
        "Affected system": r["affected_system"],
        "Developer": r["developer"],
        "Status": r["status"],
        "Source reliability": r["source_reliability"],
        "Credibility": r["credibility"],
        "Tags": ", ".join(map(str, r["tags"])),
        "TLP": f"TLP:{r['tlp']}",
        "Releasable to": ", ".join(map(str, r["releasable_to"])),
        "Named recipients": ", ".join(map(str, r["named_recipients"])),
        "Import batch": r["import_batch"],
        "Created": r["created_at"],
        "Updated": r["updated_at"],
    }
    return {label: _shown(v) for label, v in fields.items()}


def _shown(v: Any) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "–"
    if isinstance(v, datetime | pd.Timestamp):
        ts = pd.Timestamp(v)
        return ts.date().isoformat() if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    return str(v) or "–"


def _related(related: pd.DataFrame, marking: Marking) -> None:
    """Related incidents, each a link that opens it."""
    st.markdown("**Related incidents** (sharing techniques or the affected system)")
    if related.empty:
        st.caption("None that you may see.")
        return
    marking_banner(marking, "related incidents")
    for rid, title, shared, same in zip(
        related["id"], related["title"], related["shared_techniques"], related["same_system"], strict=True
    ):
        why = [f"{int(shared)} shared technique{'s' if int(shared) != 1 else ''}"] if int(shared) else []
        if bool(same):
            why.append("same system")
        incident_link(str(rid), str(title), ", ".join(why))


def _linked_evaluations(incident: str) -> None:
    st.markdown("**Evaluations of the affected model and of its techniques**")
    linked = session.query(links.evaluations_for_incident, incident)
    if linked.data.empty:
        st.caption(
            "No evaluation results you may see cover this model or (through the benchmark mapping on the "
            "Threat matrix page) this incident's techniques."
        )
        return
    marking_banner(linked.marking, "evaluation runs")
    st.dataframe(
        linked.data,
        hide_index=True,
        width="stretch",
        column_config={
            "link": "Linked by",
            "via": "Via",
            "benchmark": "Benchmark",
            "model": "Model",
            "runs": st.column_config.NumberColumn("Runs", format="%d"),
            "latest_score": st.column_config.NumberColumn("Latest score", format="%.3f"),
            "latest_date": st.column_config.DateColumn("Latest run"),
            "latest_institute": "By",
            "best_score": st.column_config.NumberColumn("Best", format="%.3f"),
            "trend": st.column_config.LineChartColumn("Trend", y_min=0.0, y_max=1.0),
        },
    )
    benchmarks = sorted(set(map(str, linked.data["benchmark"].dropna())), key=str.lower)
    models = sorted(set(map(str, linked.data["model"].dropna())), key=str.lower)
    st.caption("Open a benchmark or a model")
    entity_links([("benchmark", b, b) for b in benchmarks] + [("model", m, m) for m in models])
