"""Approved assessments: the read-only brief. Everyone may open it; it is the only assessment page policymakers
see, and it shows only approved assessments the reader is cleared for (analytics.assessments.reads decides).

`main()` draws the page: the choice of assessment, its heading, the approved text, then its pinned evidence."""

from collections import Counter

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access.pages import EVERYONE
from analytics.access.viewer import Viewer
from analytics.assessments.evidence import PinnedEvidence, pinned_evidence
from analytics.assessments.model import EVIDENCE_KINDS, Assessment
from analytics.assessments.reads import get_assessment, list_approved
from analytics.wording import counted
from pages.ui import assessment_brief, empty_state, inert_markdown, marking_banner


def main() -> None:
    viewer = session.require_role(*EVERYONE)
    st.title("Approved assessments")
    picked = _pick()
    if picked is None:
        return
    a = session.query(get_assessment, picked, None, approved=True)
    if (
        a is None
    ):  # approved list and detail are the same rule; this only happens if something changed between
        empty_state("This assessment is no longer available to you.")
        return
    st.divider()
    _heading(a)
    pins = session.query(pinned_evidence, a.id)
    _brief(viewer, a, pins)
    _evidence(viewer, a, pins)


def _pick() -> int | None:
    """The list's marking and the assessment to show (from the link's `a`, else the newest); None if none."""
    approved = session.query(list_approved)
    df = approved.data
    marking_banner(approved.marking, f"{len(df)} approved assessment{'s' if len(df) != 1 else ''}")
    if df.empty:
        empty_state("No approved assessments you are cleared for yet.")
        return None
    ids = [int(i) for i in df["id"]]
    wanted = st.query_params.get("a", "")
    current = int(wanted) if wanted.isdigit() and int(wanted) in ids else ids[0]
    titles = dict(zip(ids, df["title"], strict=True))
    superseded = {int(i) for i, s in zip(df["id"], df["superseded_by"], strict=True) if pd.notna(s)}

    def label(aid: int) -> str:
        note = " (superseded)" if aid in superseded else ""
        return f"A-{aid} · {titles[aid]}{note}"

    picked: int = st.selectbox(
        "Assessment", ids, index=ids.index(current), format_func=label, key="read_pick"
    )
    if str(picked) != wanted:
        st.query_params["a"] = str(picked)
    return picked


def _heading(a: Assessment) -> None:
    marking_banner(a.marking, f"assessment A-{a.id}, version {a.version}")
    st.subheader(inert_markdown(a.title), anchor=False)
    signed = " and ".join(f"{inert_markdown(s.name)} ({s.institute} lead)" for s in a.signoffs)
    st.caption(f"Approved {_approved_on(a)} by {signed}.")
    if a.superseded_by is not None:
        st.info(f"Superseded by assessment A-{a.superseded_by}, approved since.", icon=":material/update:")


def _approved_on(a: Assessment) -> str:
    return a.approved_at.strftime("%d %B %Y") if a.approved_at else ""


def _brief(viewer: Viewer, a: Assessment, pins: list[PinnedEvidence]) -> None:
    """The approved text, warned about first when records behind it have changed since approval."""
    changed = [p for p in pins if p.changed]
    if changed:
        st.warning(
            f"{len(changed)} of the {counted(len(pins), 'record')} behind this assessment have changed since it was "
            "approved. The text below is the approved text; the evidence is shown as it was at approval.",
            icon=":material/difference:",
        )
    labels = {p.ref: p.label for p in pins} if viewer.can_see_records else None
    assessment_brief(a, labels)


def _evidence(viewer: Viewer, a: Assessment, pins: list[PinnedEvidence]) -> None:
    """The pinned records: counts only for readers who may not see records, a table for those who may."""
    st.markdown("#### Evidence")
    kinds = Counter(EVIDENCE_KINDS[p.ref.kind].lower() for p in pins)
    summary = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in sorted(kinds.items()))
    if not viewer.can_see_records:
        st.caption(
            f"Based on {summary or 'no records'}, pinned as they were at approval. "
            "Analysts can open the records themselves."
        )
        return
    st.caption(f"{summary or 'No records'}, pinned as they were at approval ({_approved_on(a)}).")
    rows = [
        {
            "Kind": EVIDENCE_KINDS[p.ref.kind],
            "Record": p.label,
            "Marking at approval": f"TLP:{p.marking.tlp} · {' and '.join(p.marking.releasable_to)}",
            "Since approval": (
                "no longer available"
                if not p.available
                else ("changed: " + ", ".join(p.changed_fields) if p.changed_fields else "unchanged")
            ),
        }
        for p in pins
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


main()
