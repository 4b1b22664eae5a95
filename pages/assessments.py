"""Assessments workspace (analysts and leads): the list, the editor with its live checker, review and versions.

The page only reads widgets, calls analytics.assessments (reads, workflow, checker, ...) and renders: every rule (who may sign, what the
marking is, what the checker flags, when a save conflicts) lives there. The editor keeps its fields in
session state under `ed_*` keys, loaded from one version; saving names that version so a concurrent save by
someone else comes back as a conflict with both texts instead of overwriting theirs.
"""

from __future__ import annotations

import secrets
from typing import Any

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access.markings import INSTITUTES, TLP_LEVELS, tlp_rank
from analytics.access.roles import SIGNERS
from analytics.assessments import reads, yardstick
from analytics.assessments.checker import Finding, blocking, check
from analytics.assessments.diff import compare_versions
from analytics.assessments.evidence import (
    draft_marking,
    evidence_changed_count,
    evidence_info,
    search_evidence,
)
from analytics.assessments.model import (
    AUTHOR_ROLES,
    EDITABLE_STATUSES,
    EVIDENCE_KINDS,
    SIGNOFF_INSTITUTES,
    STATUS_LABELS,
    Assessment,
    AssessmentDraft,
    AssessmentError,
    EditConflict,
    EvidenceRef,
    JudgementDraft,
)
from analytics.assessments.workflow import (
    add_comment,
    create_assessment,
    return_for_changes,
    save_version,
    sign_off,
    start_successor,
    submit_for_review,
)
from pages.ui import assessment_brief, empty_state, inert_markdown, judgement_estimate, marking_banner

viewer = session.require_role(*AUTHOR_ROLES)
today = session.today()
ss = st.session_state

LINE_SECTIONS = {
    "assumptions": "Assumptions (one per line)",
    "alternatives": "Alternative views (one per line)",
    "indicators": "Indicators that would change these judgements (one per line)",
}


# -- state ------------------------------------------------------------------------------------------------------


def _flash(kind: str, message: str) -> None:
    ss["as_flash"] = (kind, message)


def _open(target: int | str | None) -> None:
    ss["as_open"] = target
    ss["ed_loaded"] = None
    ss.pop("ed_conflict", None)
    if target is None:
        st.query_params.pop("a", None)
    else:
        st.query_params["a"] = str(target)


def _on_list_select() -> None:
    rows = ss["as_list"].selection.rows
    if rows:
        _open(int(ss["as_list_ids"][rows[0]]))


def _on_pick() -> None:
    picked = ss.get("as_pick")
    if picked is not None and picked != ss.get("as_open"):
        _open(int(picked))


def _jkey() -> str:
    return secrets.token_hex(4)


def _load_judgement(k: str, j: JudgementDraft) -> None:
    ss[f"ed_j_{k}_statement"] = j.statement
    ss[f"ed_j_{k}_term"] = j.term
    ss[f"ed_j_{k}_icd"] = None
    ss[f"ed_j_{k}_conf"] = j.confidence
    ss[f"ed_j_{k}_reasoning"] = j.reasoning
    ss[f"ed_j_{k}_evidence"] = [e.key for e in j.evidence]
    ss[f"ed_j_{k}_q"] = ""
    ss[f"ed_j_{k}_kind"] = "incident"


def _load_editor(a: Assessment | None, draft: AssessmentDraft | None = None) -> None:
    """Fill the editor from a saved version (or a blank draft); runs before any editor widget exists."""
    for key in [k for k in ss if str(k).startswith("ed_")]:
        del ss[key]
    d = draft or (a.to_draft() if a else AssessmentDraft(title="", judgements=(JudgementDraft(""),)))
    ss["ed_loaded"] = a.id if a else "new"
    ss["ed_base_version"] = a.version if a else 0
    ss["ed_title"] = d.title
    ss["ed_question"] = d.question
    ss["ed_bluf"] = d.bluf
    for attr in LINE_SECTIONS:
        ss[f"ed_{attr}"] = "\n".join(getattr(d, attr))
    ss["ed_changes"] = d.changes
    ss["ed_supersedes"] = d.supersedes
    ss["ed_raise"] = d.raise_tlp or ""  # "" = as the evidence requires (None would read as "no choice")
    ss["ed_restrict"] = list(d.restrict_to)
    ss["ed_recipients"] = ", ".join(d.named_recipients)
    keys = []
    for j in d.judgements:
        k = j.key or _jkey()
        keys.append(k)
        _load_judgement(k, j)
    ss["ed_jkeys"] = keys
    refs = [e for j in d.judgements for e in j.evidence]
    info = session.query(evidence_info, tuple(refs), today) if refs else {}
    ss["ed_labels"] = {
        r.key: _with_marking(i.label, i.marking.tlp, i.marking.releasable_to) for r, i in info.items()
    }


def _add_judgement() -> None:
    k = _jkey()
    _load_judgement(k, JudgementDraft(""))
    ss["ed_jkeys"] = [*ss["ed_jkeys"], k]


def _remove_judgement(k: str) -> None:
    ss["ed_jkeys"] = [x for x in ss["ed_jkeys"] if x != k]


def _move_judgement(k: str, step: int) -> None:
    keys = list(ss["ed_jkeys"])
    i = keys.index(k)
    j = max(0, min(len(keys) - 1, i + step))
    keys[i], keys[j] = keys[j], keys[i]
    ss["ed_jkeys"] = keys


def _icd_picked(k: str) -> None:
    icd = ss.get(f"ed_j_{k}_icd")
    if icd:
        ss[f"ed_j_{k}_term"] = yardstick.icd_to_phia(icd).target.term


def _with_marking(label: str, tlp: str, releasable: Any) -> str:
    """Search results say their marking, so authors see what citing a record does to the assessment's."""
    return f"{label} · TLP:{tlp} · {' and '.join(releasable)}"


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in (text or "").splitlines() if line.strip())


def _draft_from_widgets() -> AssessmentDraft:
    judgements = tuple(
        JudgementDraft(
            statement=ss.get(f"ed_j_{k}_statement", ""),
            term=ss.get(f"ed_j_{k}_term"),
            confidence=ss.get(f"ed_j_{k}_conf"),
            reasoning=ss.get(f"ed_j_{k}_reasoning", ""),
            evidence=tuple(EvidenceRef.parse(e) for e in ss.get(f"ed_j_{k}_evidence", [])),
            key=k,
        )
        for k in ss["ed_jkeys"]
    )
    return AssessmentDraft(
        title=ss.get("ed_title", ""),
        question=ss.get("ed_question", ""),
        bluf=ss.get("ed_bluf", ""),
        judgements=judgements,
        assumptions=_lines(ss.get("ed_assumptions", "")),
        alternatives=_lines(ss.get("ed_alternatives", "")),
        indicators=_lines(ss.get("ed_indicators", "")),
        changes=ss.get("ed_changes", ""),
        supersedes=ss.get("ed_supersedes"),
        raise_tlp=ss.get("ed_raise") or None,
        restrict_to=tuple(ss.get("ed_restrict", [])),
        named_recipients=tuple(
            n for n in (ss.get("ed_recipients") or "").replace(";", ",").split(",") if n.strip()
        ),
    )


# -- actions ----------------------------------------------------------------------------------------------------


def _save(a: Assessment | None, draft: AssessmentDraft, expected: int, *, submit: bool = False) -> None:
    """Save (and optionally submit); every outcome becomes a flash message or a conflict to resolve."""
    store = session.store()
    try:
        if a is None:
            aid, version = create_assessment(store, viewer, draft, today=today), 1
        else:
            aid, version = a.id, save_version(store, viewer, a.id, draft, expected, today=today)
    except EditConflict as conflict:
        ss["ed_conflict"] = conflict
        return
    except AssessmentError as e:
        _flash("error", str(e))
        return
    ss.pop("ed_conflict", None)
    message = f"Saved A-{aid} version {version}."
    # Told as a count only: those dissents stay on the version they were written on, for that version's readers.
    dropped = (
        reads.not_carried(session.cursor(), viewer, aid, version)
        if a is not None and version > expected
        else 0
    )
    not_carried = (
        f" {dropped} dissent(s) on version {version - 1} were not carried to version {version}: its audience "
        "is wider than that of the version they were written on."
        if dropped
        else ""
    )
    if submit:
        try:
            submit_for_review(store, viewer, aid, version)
            message = f"Saved version {version} and submitted A-{aid} for review."
        except AssessmentError as e:
            _flash("warning", f"Saved version {version}, but not submitted: {e}{not_carried}")
            _open(aid)
            return
    _flash("warning" if dropped else "success", message + not_carried)
    _open(aid)


def _act(fn: Any, *args: Any, success: str, **kwargs: Any) -> None:
    try:
        result = fn(session.store(), viewer, *args, **kwargs)
    except AssessmentError as e:
        _flash("error", str(e))
    else:
        _flash("success", success.format(label=STATUS_LABELS.get(str(result), "")))
    st.rerun()


# -- rendering pieces -------------------------------------------------------------------------------------------


def _status_badges(a: Assessment) -> str:
    colour = {"draft": "gray", "in_review": "blue", "returned": "orange", "approved": "green"}[a.status]
    signed = set(a.signed_institutes)
    signs = " ".join(
        f":green-badge[{i} lead signed]" if i in signed else f":gray-badge[{i} lead to sign]"
        for i in SIGNOFF_INSTITUTES
    )
    return f":{colour}-badge[{STATUS_LABELS[a.status]}] :gray-badge[version {a.version}] {signs}"


def _draft_preview(d: AssessmentDraft) -> None:
    """A draft that is not saved (one side of a conflict): the parts people edit most."""
    st.text(d.title)
    if d.bluf:
        st.text(d.bluf)
    for n, j in enumerate(d.judgements, start=1):
        st.markdown(f"**{n}.** {inert_markdown(j.statement)}")
        st.markdown(judgement_estimate(j.term, j.confidence))


def _render_findings(findings: list[Finding]) -> None:
    if not findings:
        st.success("No problems found.", icon=":material/check_circle:")
        return
    errors = blocking(findings)
    st.caption(f"{len(errors)} blocking, {len(findings) - len(errors)} advice")
    for f in sorted(findings, key=lambda f: (f.severity != "error", f.judgement or 0)):
        where = f"Judgement {f.judgement} " if f.judgement else ""
        badge = ":red-badge[blocks submission]" if f.severity == "error" else ":orange-badge[advice]"
        st.markdown(f"{badge} {where}{f.message}")


def _conflict_panel(a: Assessment | None) -> None:
    conflict: EditConflict = ss["ed_conflict"]
    st.warning(str(conflict), icon=":material/sync_problem:")
    theirs, mine = st.columns(2)
    with theirs:
        st.markdown(
            f"**Saved: version {conflict.theirs.version} by {inert_markdown(conflict.theirs.saved_by)}**"
        )
        _draft_preview(conflict.theirs.to_draft())
    with mine:
        st.markdown("**Yours: not saved yet**")
        _draft_preview(conflict.mine)
    c1, c2 = st.columns(2)
    if c1.button("Save mine as the next version", type="primary", key="ed_keep_mine"):
        _save(a, conflict.mine, conflict.theirs.version)
        st.rerun()
    if c2.button("Discard mine and load theirs", key="ed_take_theirs"):
        ss.pop("ed_conflict", None)
        ss["ed_loaded"] = None
        st.rerun()


def _evidence_picker(k: str) -> None:
    labels: dict[str, str] = ss["ed_labels"]
    with st.expander("Find evidence", icon=":material/search:"):
        c1, c2 = st.columns([1, 2])
        kind = c1.selectbox(
            "Kind", list(EVIDENCE_KINDS), format_func=EVIDENCE_KINDS.__getitem__, key=f"ed_j_{k}_kind"
        )
        q = c2.text_input("Search titles, models, benchmarks or an id", key=f"ed_j_{k}_q", max_chars=200)
        found = session.query(search_evidence, kind, q, today) if q.strip() or kind == "view" else None
        if found is not None:
            labels.update(
                {
                    ref: _with_marking(label, tlp, rel) if tlp else label
                    for ref, label, tlp, rel in zip(
                        found["ref"], found["label"], found["tlp"], found["releasable_to"], strict=True
                    )
                }
            )
            if found.empty:
                st.caption("Nothing you may see matches.")
            else:
                st.caption(f"{len(found)} match(es) you may see; add them in the list below.")
    chosen = list(ss.get(f"ed_j_{k}_evidence", []))
    options = list(dict.fromkeys([*chosen, *([] if found is None else list(found["ref"]))]))
    st.multiselect(
        "Evidence",
        options,
        format_func=lambda r: f"{EVIDENCE_KINDS[r.partition(':')[0]]} · {labels.get(r, r)}",
        key=f"ed_j_{k}_evidence",
        placeholder="Search above, then pick records",
    )


def _judgement_editor(n: int, k: str, total: int) -> None:
    with st.container(border=True):
        head, up, down, remove = st.columns([8, 1, 1, 1], vertical_alignment="center")
        head.markdown(f"**Key judgement {n}**")
        up.button(
            "",
            icon=":material/arrow_upward:",
            key=f"ed_j_{k}_up",
            on_click=_move_judgement,
            args=(k, -1),
            disabled=n == 1,
            help="Move up",
        )
        down.button(
            "",
            icon=":material/arrow_downward:",
            key=f"ed_j_{k}_down",
            on_click=_move_judgement,
            args=(k, 1),
            disabled=n == total,
            help="Move down",
        )
        remove.button(
            "",
            icon=":material/delete:",
            key=f"ed_j_{k}_remove",
            on_click=_remove_judgement,
            args=(k,),
            help="Remove this judgement",
        )
        st.text_area("Judgement", key=f"ed_j_{k}_statement", height=80, placeholder="We judge that …")
        t1, t2 = st.columns(2)
        t1.selectbox(
            "Probability (PHIA yardstick)",
            yardstick.PHIA_TERMS,
            format_func=lambda t: yardstick.phia_band(t).label,
            index=None,
            placeholder="Choose a term",
            key=f"ed_j_{k}_term",
        )
        t2.selectbox(
            "…or a partner's ICD 203 term",
            yardstick.ICD_TERMS,
            format_func=lambda t: yardstick.icd_band(t).label,
            index=None,
            placeholder="Translate from ICD 203",
            key=f"ed_j_{k}_icd",
            on_change=_icd_picked,
            args=(k,),
        )
        st.segmented_control(
            "Confidence",
            yardstick.CONFIDENCE_LEVELS,
            key=f"ed_j_{k}_conf",
            help="How good the information and analysis behind the judgement are (not how probable it is).",
        )
        icd = ss.get(f"ed_j_{k}_icd")
        if icd:
            tr = yardstick.icd_to_phia(icd)
            st.caption(f"ICD 203 {tr.source.label} is saved as PHIA {tr.target.label}.")
            if tr.warning:
                st.warning(tr.warning, icon=":material/warning:")
        st.text_area("Reasoning", key=f"ed_j_{k}_reasoning", height=80)
        _evidence_picker(k)


def _editor(a: Assessment | None) -> None:
    # Bound to the assessment, not its newest version: someone else's save must not wipe what is being typed.
    if ss.get("ed_loaded") != (a.id if a else "new"):
        _load_editor(a)
    base_version = int(ss.get("ed_base_version", 0))
    if a is not None and a.version != base_version and "ed_conflict" not in ss:
        st.info(
            f"{inert_markdown(a.saved_by)} saved version {a.version} after you opened version {base_version}. "
            "When you save, you will see both texts and choose.",
            icon=":material/group:",
        )
    if "ed_conflict" in ss:
        _conflict_panel(a)
        st.divider()
    form, side = st.columns([2.2, 1], gap="large")
    with form:
        st.text_input("Title", key="ed_title", max_chars=300)
        st.text_area("Question this assessment answers", key="ed_question", height=68)
        st.text_area("Bottom line up front", key="ed_bluf", height=90)
        keys = list(ss["ed_jkeys"])
        for n, k in enumerate(keys, start=1):
            _judgement_editor(n, k, len(keys))
        st.button("Add a key judgement", icon=":material/add:", on_click=_add_judgement)
        for attr, label in LINE_SECTIONS.items():
            st.text_area(label, key=f"ed_{attr}", height=90)
        if ss.get("ed_supersedes"):
            st.caption(f"Supersedes assessment A-{ss['ed_supersedes']}.")
        st.text_area("What changed since the last assessment", key="ed_changes", height=80)

    draft = _draft_from_widgets()
    # Live, uncached checks: they depend on text being typed, so caching would only fill the cache.
    con = session.cursor()
    with side:
        st.markdown("#### Marking")
        try:
            floor = draft_marking(con, viewer, AssessmentDraft(title="", judgements=draft.judgements), today)
        except AssessmentError as e:
            st.warning(str(e))
            floor = None
        raise_options: list[str] = [""]
        if floor is not None:
            raise_options += [t for t in TLP_LEVELS if tlp_rank(t) > tlp_rank(floor.evidence_tlp)]
        if ss.get("ed_raise") not in raise_options:
            ss["ed_raise"] = ""
        st.selectbox(
            "TLP",
            raise_options,
            format_func=lambda t: (
                f"TLP:{floor.evidence_tlp if floor else '?'} (from evidence)"
                if not t
                else f"Raise to TLP:{t}"
            ),
            key="ed_raise",
            help="Derived from the evidence. You may raise it, never lower it.",
        )
        st.multiselect(
            "Restrict releasability to",
            list(INSTITUTES),
            key="ed_restrict",
            help="Leave empty to keep what the evidence allows.",
        )
        st.text_input(
            "Named recipients (for TLP:RED)",
            key="ed_recipients",
            help="Emails, comma-separated. With RED evidence, only people named on every RED record remain.",
        )
        draft = _draft_from_widgets()
        try:
            derived = draft_marking(con, viewer, draft, today)
            marking_banner(derived.marking, "derived")
            if derived.tlp == "RED":
                st.caption(
                    f"Named recipients: {inert_markdown(', '.join(derived.named_recipients) or 'nobody')}"
                )
        except AssessmentError:
            pass
        st.markdown("#### Checker")
        _render_findings(check(con, viewer, draft, a, today))
        st.divider()
        st.text_input("Note for this version (optional)", key="ed_note", max_chars=200)
        if st.button("Save draft", type="primary", icon=":material/save:", width="stretch", key="ed_save"):
            _save(a, draft, base_version)
            st.rerun()
        can_submit = a is None or a.status in ("draft", "returned")
        if can_submit and st.button(
            "Save and submit for review", icon=":material/send:", width="stretch", key="ed_submit"
        ):
            _save(a, draft, base_version, submit=True)
            st.rerun()
        if a is not None:
            st.caption(
                f"Editing from version {base_version}. Saving makes version {base_version + 1}"
                + (" and clears sign-offs." if a.signoffs else ".")
                + (" In review, a save the checker blocks is refused." if a.status == "in_review" else "")
            )


def _review(a: Assessment) -> None:
    evidence = a.evidence()
    info = session.query(evidence_info, evidence, today) if evidence else {}
    labels = {r: i.label for r, i in info.items()}
    is_author = viewer.email in a.authors
    if a.status == "in_review" and viewer.role in SIGNERS:
        if is_author:
            st.info("You wrote part of this assessment, so a lead who did not will sign it off.")
        elif any(s.email == viewer.email for s in a.signoffs):
            st.success(f"You signed off version {a.version}.")
        else:
            with st.container(border=True):
                st.markdown(f"**Your review of version {a.version}** ({viewer.institute} lead)")
                c1, c2 = st.columns([1, 2])
                if c1.button(
                    "Sign off this version", type="primary", icon=":material/verified:", key="rv_sign"
                ):
                    _act(sign_off, a.id, a.version, success="Signed off. Status now: {label}.")
                with c2:
                    reason = st.text_area("Or return it with comments", key="rv_return_text", height=68)
                    if st.button("Return to authors", icon=":material/undo:", key="rv_return"):
                        _act(return_for_changes, a.id, a.version, reason, success="Returned to the authors.")
    if a.status in ("draft", "returned") and st.button(
        "Submit for review", icon=":material/send:", key="rv_submit"
    ):
        _act(submit_for_review, a.id, a.version, success="Submitted for review.")
    if a.status == "approved":
        changed = session.query(evidence_changed_count, a.id)
        st.success(
            f"Approved {a.approved_at:%d %B %Y}. Evidence is pinned as it was at approval"
            + (f"; {changed} record(s) have changed since." if changed else "; none has changed since."),
            icon=":material/verified:",
        )
        if st.button("Start a successor assessment", icon=":material/update:", key="rv_successor"):
            try:
                new_id = start_successor(session.store(), viewer, a.id, today=today)
            except AssessmentError as e:
                _flash("error", str(e))
            else:
                _flash("success", f"Started A-{new_id}, superseding A-{a.id}.")
                _open(new_id)
            st.rerun()
    for c in [c for c in a.comments if c.kind == "return"]:
        st.warning(
            f"Returned by {inert_markdown(c.name)} ({c.institute}, on version {c.version}): {inert_markdown(c.body)}",
            icon=":material/undo:",
        )
    assessment_brief(a, labels)
    _comments(a)


def _comments(a: Assessment) -> None:
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
            _act(add_comment, a.id, a.version, on, body, dissent=dissent, success="Comment added.")


def _versions(a: Assessment) -> None:
    versions = session.query(reads.list_versions, a.id)
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
    d = session.query(compare_versions, a.id, old, new)
    if d.empty:
        st.caption("No differences.")
        return
    for title, changes, show_text in (
        ("Judgements added", d.added, "new"),
        ("Judgements removed", d.removed, "old"),
        ("Judgements re-worded", d.reworded, "both"),
        ("Probability term changed", d.term_changed, "detail"),
        ("Confidence changed", d.confidence_changed, "detail"),
        ("Reasoning changed", d.reasoning_changed, "none"),
        ("Evidence changed", d.evidence_changed, "detail"),
    ):
        if not changes:
            continue
        st.markdown(f"**{title}**")
        for c in changes:
            num = f"{c.old_number or '–'} → {c.new_number or '–'}"
            if show_text == "new":
                st.markdown(f"- ({num}) {inert_markdown(c.new)}")
            elif show_text == "old":
                st.markdown(f"- ({num}) ~~{inert_markdown(c.old)}~~")
            elif show_text == "both":
                st.markdown(f"- ({num}) ~~{inert_markdown(c.old)}~~ → {inert_markdown(c.new)}")
            elif show_text == "detail":
                st.markdown(f"- judgement {num}: {c.detail}")
            else:
                st.markdown(f"- judgement {num}")
    if d.sections_changed:
        st.markdown("**Other sections changed:** " + ", ".join(d.sections_changed))
    if d.marking_changed:
        st.markdown(f"**Marking:** {d.marking_changed}")


# -- the page ---------------------------------------------------------------------------------------------------

st.title("Assessments")
if "as_open" not in ss:
    wanted = st.query_params.get("a", "")
    ss["as_open"] = int(wanted) if wanted.isdigit() else ("new" if wanted == "new" else None)
if flash := ss.pop("as_flash", None):
    {"success": st.success, "warning": st.warning, "error": st.error}[flash[0]](flash[1])

listing = session.query(reads.list_assessments)
df = listing.data
marking_banner(listing.marking, f"{len(df)} assessment{'s' if len(df) != 1 else ''} you may see")

m1, m2, m3, m4, new_col = st.columns([1, 1, 1, 1, 1.4], vertical_alignment="center")
m1.metric("Awaiting my sign-off", int(df["awaiting_me"].sum()) if not df.empty else 0)
m2.metric("In review", int((df["status"] == "in_review").sum()) if not df.empty else 0)
m3.metric("Drafts", int(df["status"].isin(["draft", "returned"]).sum()) if not df.empty else 0)
m4.metric("Approved", int((df["status"] == "approved").sum()) if not df.empty else 0)
new_col.button(
    "New assessment", type="primary", icon=":material/add:", on_click=_open, args=("new",), key="as_new"
)

if df.empty:
    empty_state("No assessments yet. Start one with New assessment.")
else:
    table = pd.DataFrame(
        {
            "Yours to sign": ["● yes" if x else "" for x in df["awaiting_me"]],
            "Id": [f"A-{i}" for i in df["id"]],
            "Title": df["title"],
            "Status": [STATUS_LABELS[s] for s in df["status"]],
            "Marking": [
                f"TLP:{t} · {' and '.join(r)}" for t, r in zip(df["tlp"], df["releasable_to"], strict=True)
            ],
            "Authors": [", ".join(a) for a in df["authors"]],
            "Signed off": [
                " ".join(f"{i} ✓" if i in list(s) else f"{i} …" for i in SIGNOFF_INSTITUTES)
                for s in df["signed_by"]
            ],
            "Version": df["version"],
            "Updated": df["updated"],
        }
    )
    ss["as_list_ids"] = [int(i) for i in df["id"]]
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

opened = ss.get("as_open")
if opened == "new":
    st.divider()
    st.subheader("New assessment", anchor=False)
    _editor(None)
elif opened is not None:
    a = session.query(reads.get_assessment, int(opened))
    st.divider()
    if a is None:
        empty_state(f"No assessment A-{opened}.")
    else:
        marking_banner(a.marking, f"A-{a.id}, version {a.version}")
        st.subheader(inert_markdown(a.title), anchor=False)
        st.markdown(_status_badges(a))
        names = ", ".join(inert_markdown(x) for x in a.author_names)
        st.caption(f"Authors: {names} · last saved {a.saved_at:%d %b %Y %H:%M}")
        review, edit, history = st.tabs(["Read and review", "Edit", "Versions"])
        with review:
            _review(a)
        with edit:
            if a.status in EDITABLE_STATUSES:
                _editor(a)
            else:
                st.info("Approved assessments are final. Start a successor from the Read and review tab.")
        with history:
            _versions(a)
