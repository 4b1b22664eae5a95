"""Assessments workspace (analysts and leads): the list, the editor with its live checker, review and versions.

The page only reads widgets, calls analytics.assessments (reads, workflow, checker, diff, evidence) and renders:
every rule (who may sign, what the marking is, what the checker flags, when a save conflicts, what waits for
whom) lives there. `main()` draws the inbox (waiting for your sign-off, returned to you), the list of
assessments, then the one opened, in three tabs: read and review, edit (the editor is
pages/parts/assessment_editor.py), versions (notes, and the words and evidence each version changed).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access.roles import ASSESSMENT_AUTHORS, SIGNERS
from analytics.access.viewer import Viewer
from analytics.assessments.diff import EvidenceItem, VersionDiff, compare_versions
from analytics.assessments.evidence import evidence_changed_count, evidence_info
from analytics.assessments.inbox import inbox, signers_left
from analytics.assessments.model import (
    EDITABLE_STATUSES,
    SIGNOFF_INSTITUTES,
    STATUS_LABELS,
    Assessment,
    AssessmentError,
)
from analytics.assessments.reads import get_assessment, list_assessments, list_versions
from analytics.assessments.workflow import (
    add_comment,
    return_for_changes,
    sign_off,
    start_successor,
    submit_for_review,
)
from analytics.wording import counted
from pages.parts.assessment_editor import editor, flash, highlighted, open_assessment
from pages.ui import assessment_brief, empty_state, inert_markdown, marking_banner

ss = st.session_state


def main() -> None:
    viewer = session.require_role(*ASSESSMENT_AUTHORS)
    today = session.today()
    st.title("Assessments")
    if "as_open" not in ss:
        wanted = st.query_params.get("a", "")
        ss["as_open"] = int(wanted) if wanted.isdigit() else ("new" if wanted == "new" else None)
    if message := ss.pop("as_flash", None):
        {"success": st.success, "warning": st.warning, "error": st.error}[message[0]](message[1])
    _inbox()
    _workspace()
    opened = ss.get("as_open")
    if opened == "new":
        st.divider()
        st.subheader("New assessment", anchor=False)
        editor(viewer, today, None)
    elif opened is not None:
        st.divider()
        _opened(viewer, today, int(opened))


# -- the inbox --------------------------------------------------------------------------------------------------


def _inbox() -> None:
    """What waits for this person: sign-offs (leads) and drafts returned to them, each with a button opening it."""
    box = session.query(inbox)
    if box.empty:
        return
    with st.container(border=True):
        for heading, items, icon in (
            ("Waiting for your sign-off", box.waiting_for_signoff, ":material/verified:"),
            ("Returned to you", box.returned_to_you, ":material/undo:"),
        ):
            if not items:
                continue
            st.markdown(f"**{heading}** ({len(items)})")
            for item in items:
                text, button = st.columns([5, 1], vertical_alignment="center")
                when = f", {item.at:%d %b %Y %H:%M}" if item.at else ""
                verb = "saved by" if heading.startswith("Waiting") else "returned by"
                text.markdown(
                    f"A-{item.assessment_id} · {inert_markdown(item.title)} · version {item.version}, "
                    f"{verb} {inert_markdown(item.by)}{when}"
                )
                button.button(
                    "Open",
                    key=f"inbox_open_{item.assessment_id}",
                    icon=icon,
                    on_click=open_assessment,
                    args=(item.assessment_id,),
                )


# -- the list ---------------------------------------------------------------------------------------------------


def _workspace() -> None:
    """Counts, the list of assessments this viewer may see, and the picker that opens one."""
    listing = session.query(list_assessments)
    df = listing.data
    marking_banner(listing.marking, f"{len(df)} assessment{'s' if len(df) != 1 else ''} you may see")
    # One wrapping row: on a narrow screen the figures go two by two rather than truncate their labels.
    m1 = m2 = m3 = m4 = new_col = st.container(horizontal=True, vertical_alignment="center")
    m1.metric("Awaiting my sign-off", int(df["awaiting_me"].sum()) if not df.empty else 0)
    m2.metric("In review", int((df["status"] == "in_review").sum()) if not df.empty else 0)
    m3.metric("Drafts", int(df["status"].isin(["draft", "returned"]).sum()) if not df.empty else 0)
    m4.metric("Approved", int((df["status"] == "approved").sum()) if not df.empty else 0)
    new_col.button(
        "New assessment",
        type="primary",
        icon=":material/add:",
        on_click=open_assessment,
        args=("new",),
        key="as_new",
    )
    if df.empty:
        empty_state("No assessments yet. Start one with New assessment.")
        return
    ss["as_list_ids"] = [int(i) for i in df["id"]]
    _list_table(df)
    titles = dict(zip(ss["as_list_ids"], df["title"], strict=True))
    opened_now = ss.get("as_open")
    ss["as_pick"] = opened_now if opened_now in titles else None
    st.selectbox(
        "Open an assessment",
        ss["as_list_ids"],
        format_func=lambda i: f"A-{i} · {titles[i]}",
        index=None,
        placeholder="Select a row above, or choose here",
        key="as_pick",
        on_change=_on_pick,
    )


def _list_table(df: pd.DataFrame) -> None:
    table = pd.DataFrame(
        {
            # What identifies an assessment and its marking first, so they stay in view at 1024 px.
            "Id": [f"A-{i}" for i in df["id"]],
            "Title": df["title"],
            "Status": [STATUS_LABELS[s] for s in df["status"]],
            "Marking": [
                f"TLP:{t} · {' and '.join(r)}" for t, r in zip(df["tlp"], df["releasable_to"], strict=True)
            ],
            "Yours to sign": ["● yes" if x else "" for x in df["awaiting_me"]],
            "Authors": [", ".join(a) for a in df["authors"]],
            "Signed off": [
                " ".join(f"{i} ✓" if i in list(s) else f"{i} …" for i in SIGNOFF_INSTITUTES)
                for s in df["signed_by"]
            ],
            "Version": df["version"],
            "Updated": df["updated"],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select=_on_list_select,
        selection_mode="single-row",
        key="as_list",
        column_config={
            "Updated": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
            "Yours to sign": st.column_config.TextColumn(width="small"),
        },
    )


def _on_list_select() -> None:
    rows = ss["as_list"].selection.rows
    if rows:
        open_assessment(int(ss["as_list_ids"][rows[0]]))


def _on_pick() -> None:
    picked = ss.get("as_pick")
    if picked is not None and picked != ss.get("as_open"):
        open_assessment(int(picked))


# -- the opened assessment --------------------------------------------------------------------------------------


def _opened(viewer: Viewer, today: date, aid: int) -> None:
    a = session.query(get_assessment, aid)
    if a is None:
        empty_state(f"No assessment A-{aid}.")
        return
    marking_banner(a.marking, f"A-{a.id}, version {a.version}")
    st.subheader(inert_markdown(a.title), anchor=False)
    st.markdown(_status_badges(a))
    names = ", ".join(inert_markdown(x) for x in a.author_names)
    st.caption(f"Authors: {names} · last saved {a.saved_at:%d %b %Y %H:%M}")
    _nobody_to_sign(a)
    review, edit, history = st.tabs(["Read and review", "Edit", "Versions"])
    with review:
        _review(viewer, today, a)
    with edit:
        if a.status in EDITABLE_STATUSES:
            editor(viewer, today, a)
        else:
            st.info("Approved assessments are final. Start a successor from the Read and review tab.")
    with history:
        _versions(a)


def _nobody_to_sign(a: Assessment) -> None:
    """Say so when an institute that still has to sign has no lead left who could (workflow.sign_off's rule)."""
    for institute, count in session.query(signers_left, a.id).items():
        if count == 0:
            st.warning(
                f"No {institute} lead can sign this off: every active {institute} lead wrote part of it or may not "
                f"read it. An administrator can enrol another {institute} lead; until then it cannot be approved.",
                icon=":material/person_off:",
            )


def _status_badges(a: Assessment) -> str:
    colour = {"draft": "gray", "in_review": "blue", "returned": "orange", "approved": "green"}[a.status]
    signed = set(a.signed_institutes)
    signs = " ".join(
        f":green-badge[{i} lead signed]" if i in signed else f":gray-badge[{i} lead to sign]"
        for i in SIGNOFF_INSTITUTES
    )
    return f":{colour}-badge[{STATUS_LABELS[a.status]}] :gray-badge[version {a.version}] {signs}"


def _act(viewer: Viewer, fn: Any, *args: Any, success: str, **kwargs: Any) -> None:
    """Run one workflow write; its outcome (or refusal) becomes the flash message of the rerun."""
    try:
        result = fn(session.store(), viewer, *args, **kwargs)
    except AssessmentError as e:
        flash("error", str(e))
    else:
        flash("success", success.format(label=STATUS_LABELS.get(str(result), "")))
    st.rerun()


# -- tab: read and review ---------------------------------------------------------------------------------------


def _review(viewer: Viewer, today: date, a: Assessment) -> None:
    if a.status == "in_review" and viewer.role in SIGNERS:
        _sign_or_return(viewer, a)
    if a.status in ("draft", "returned") and st.button(
        "Submit for review", icon=":material/send:", key="rv_submit"
    ):
        _act(viewer, submit_for_review, a.id, a.version, success="Submitted for review.")
    if a.status == "approved":
        _approved(viewer, today, a)
    for c in [c for c in a.comments if c.kind == "return"]:
        st.warning(
            f"Returned by {inert_markdown(c.name)} ({c.institute}, on version {c.version}): {inert_markdown(c.body)}",
            icon=":material/undo:",
        )
    evidence = a.evidence()
    info = session.query(evidence_info, evidence, today) if evidence else {}
    assessment_brief(a, {r: i.label for r, i in info.items()})
    _comments(viewer, a)


def _sign_or_return(viewer: Viewer, a: Assessment) -> None:
    """A lead's review of the version in review (who may sign is decided by workflow.sign_off)."""
    if viewer.email in a.authors:
        st.info("You wrote part of this assessment, so a lead who did not will sign it off.")
        return
    if any(s.email == viewer.email for s in a.signoffs):
        st.success(f"You signed off version {a.version}.")
        return
    with st.container(border=True):
        st.markdown(f"**Your review of version {a.version}** ({viewer.institute} lead)")
        c1, c2 = st.columns([1, 2])
        if c1.button("Sign off this version", type="primary", icon=":material/verified:", key="rv_sign"):
            _act(viewer, sign_off, a.id, a.version, success="Signed off. Status now: {label}.")
        with c2:
            reason = st.text_area("Or return it with comments", key="rv_return_text", height=68)
            if st.button("Return to authors", icon=":material/undo:", key="rv_return"):
                _act(viewer, return_for_changes, a.id, a.version, reason, success="Returned to the authors.")


def _approved(viewer: Viewer, today: date, a: Assessment) -> None:
    changed = session.query(evidence_changed_count, a.id)
    st.success(
        f"Approved {a.approved_at:%d %B %Y}. Evidence is pinned as it was at approval"
        + (
            f"; {counted(changed, 'record')} {'has' if changed == 1 else 'have'} changed since."
            if changed
            else "; none has changed since."
        ),
        icon=":material/verified:",
    )
    if st.button("Start a successor assessment", icon=":material/update:", key="rv_successor"):
        try:
            new_id = start_successor(session.store(), viewer, a.id, today=today)
        except AssessmentError as e:
            flash("error", str(e))
        else:
            flash("success", f"Started A-{new_id}, superseding A-{a.id}.")
            open_assessment(new_id)
        st.rerun()


def _comments(viewer: Viewer, a: Assessment) -> None:
    st.markdown("#### Comments")
    general = [c for c in a.comments if c.kind == "comment"]
    numbers = {j.key: j.number for j in a.judgements}
    if not general:
        st.caption("No comments yet.")
    for c in general:
        where = (
            f"on judgement {numbers[c.judgement_key]}" if c.judgement_key in numbers else "on the assessment"
        )
        st.markdown(
            f"**{inert_markdown(c.name)}** ({c.institute}, {where}, version {c.version}): {inert_markdown(c.body)}"
        )
    if a.status == "approved":
        return
    with st.form("rv_comment", clear_on_submit=True, border=True):
        targets: list[str | None] = [None, *[j.key for j in a.judgements]]
        on = st.selectbox(
            "On",
            targets,
            format_func=lambda t: "The whole assessment" if t is None else f"Judgement {numbers[t]}",
        )
        body = st.text_area("Comment", height=80)
        dissent = st.checkbox(
            "Record as a dissent (stays visible in the approved text)",
            help="A dissent is shown beside the judgement in the approved assessment.",
        )
        if st.form_submit_button("Add comment", icon=":material/add_comment:"):
            _act(viewer, add_comment, a.id, a.version, on, body, dissent=dissent, success="Comment added.")


# -- tab: versions ----------------------------------------------------------------------------------------------


def _versions(a: Assessment) -> None:
    versions = session.query(list_versions, a.id)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Version": v.version,
                    "Saved by": v.saved_by,
                    "Saved at": v.saved_at,
                    "TLP": v.tlp,
                    "Approved": "yes" if v.approved else "",
                    "Note": v.note,
                }
                for v in versions
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={"Saved at": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm")},
    )
    numbers = [v.version for v in versions]
    if len(numbers) < 2:
        st.caption("Only one version so far.")
        return
    c1, c2 = st.columns(2)
    old = c1.selectbox("Compare version", numbers, index=1, key=f"vs_old_{a.id}")
    new = c2.selectbox("with version", numbers, index=0, key=f"vs_new_{a.id}")
    _version_diff(session.query(compare_versions, a.id, old, new))


def _evidence_line(kind: str, e: EvidenceItem) -> str:
    marking = f" · TLP:{e.tlp} · releasable to {' and '.join(e.releasable_to)}" if e.tlp else ""
    return f"- **{kind}** {inert_markdown(e.label)}{marking}"


def _version_diff(d: VersionDiff) -> None:
    """The changes between two versions: the words removed (red) and added (green), escaped; evidence by id,
    title and marking; details from fixed words."""
    if d.empty:
        st.caption("No differences.")
        return
    for title, changes, show in (
        ("Judgements added", d.added, "new"),
        ("Judgements removed", d.removed, "old"),
        ("Judgements re-worded", d.reworded, "words"),
        ("Probability term changed", d.term_changed, "detail"),
        ("Confidence changed", d.confidence_changed, "detail"),
        ("Reasoning changed", d.reasoning_changed, "words"),
        ("Evidence changed", d.evidence_changed, "evidence"),
    ):
        if not changes:
            continue
        st.markdown(f"**{title}**")
        for c in changes:
            num = f"{c.old_number or '–'} → {c.new_number or '–'}"
            if show == "new":
                st.markdown(f"- ({num}) {inert_markdown(c.new)}")
            elif show == "old":
                st.markdown(f"- ({num}) ~~{inert_markdown(c.old)}~~")
            elif show == "words":
                st.markdown(f"- judgement {num}: {highlighted(c.words)}")
            elif show == "evidence":
                st.markdown(f"- judgement {num}: {c.detail}")
                for e in c.added:
                    st.markdown(_evidence_line("added", e))
                for e in c.removed:
                    st.markdown(_evidence_line("removed", e))
            else:
                st.markdown(f"- judgement {num}: {c.detail}")
    for section in d.section_changes:
        st.markdown(f"**Changed: {section.label}**")
        st.markdown(highlighted(section.words))
    if d.marking_changed:
        st.markdown(f"**Marking:** {d.marking_changed}")


main()
