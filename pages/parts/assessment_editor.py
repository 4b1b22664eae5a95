"""The assessment editor of the Assessments page: fields, judgements, evidence picker, live marking and checker,
saving, and the conflict panel when someone else saved first.

The editor keeps its fields in session state under `ed_*` keys, loaded from one version; saving names that
version so a concurrent save by someone else comes back as a conflict with both texts instead of overwriting
theirs. Every rule (the marking, what the checker flags, when a save conflicts) lives in analytics.assessments;
this module only reads widgets, calls it and renders.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

import streamlit as st

from analytics import session
from analytics.access.markings import INSTITUTES, TLP_LEVELS, tlp_rank
from analytics.access.viewer import Viewer
from analytics.assessments import reads, yardstick
from analytics.assessments.checker import Finding, blocking, check
from analytics.assessments.evidence import draft_marking, evidence_info, search_evidence
from analytics.assessments.model import (
    EVIDENCE_KINDS,
    Assessment,
    AssessmentDraft,
    AssessmentError,
    EditConflict,
    EvidenceRef,
    JudgementDraft,
)
from analytics.assessments.workflow import create_assessment, save_version, submit_for_review
from pages.ui import inert_markdown, judgement_estimate, marking_banner, move_buttons

ss = st.session_state

LINE_SECTIONS = {
    "assumptions": "Assumptions (one per line)",
    "alternatives": "Alternative views (one per line)",
    "indicators": "Indicators that would change these judgements (one per line)",
}


def editor(viewer: Viewer, today: date, a: Assessment | None) -> None:
    """The editor for `a` (None: a new assessment): the form on the left, marking, checker and save on the right."""
    # Bound to the assessment, not its newest version: someone else's save must not wipe what is being typed.
    if ss.get("ed_loaded") != (a.id if a else "new"):
        _load_editor(today, a)
    base_version = int(ss.get("ed_base_version", 0))
    if a is not None and a.version != base_version and "ed_conflict" not in ss:
        st.info(
            f"{inert_markdown(a.saved_by)} saved version {a.version} after you opened version {base_version}. "
            "When you save, you will see both texts and choose.",
            icon=":material/group:",
        )
    if "ed_conflict" in ss:
        _conflict_panel(viewer, today, a)
        st.divider()
    form, side = st.columns([2.2, 1], gap="large")
    with form:
        _form(today)
    with side:
        draft = _marking_controls(viewer, today)
        st.markdown("#### Checker")
        # Live, uncached checks: they depend on text being typed, so caching would only fill the cache.
        _render_findings(check(session.cursor(), viewer, draft, a, today))
        st.divider()
        _save_controls(viewer, today, a, draft, base_version)


# -- state ------------------------------------------------------------------------------------------------------


def flash(kind: str, message: str) -> None:
    """A message shown once at the top of the page after the next rerun ('success', 'warning' or 'error')."""
    ss["as_flash"] = (kind, message)


def open_assessment(target: int | str | None) -> None:
    """Open an assessment by id ('new' for the blank editor, None for none) and put it in the link."""
    ss["as_open"] = target
    ss["ed_loaded"] = None
    ss.pop("ed_conflict", None)
    if target is None:
        st.query_params.pop("a", None)
    else:
        st.query_params["a"] = str(target)


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


def _load_editor(today: date, a: Assessment | None, draft: AssessmentDraft | None = None) -> None:
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


# -- saving -----------------------------------------------------------------------------------------------------


def _save(
    viewer: Viewer,
    today: date,
    a: Assessment | None,
    draft: AssessmentDraft,
    expected: int,
    *,
    submit: bool = False,
) -> None:
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
        flash("error", str(e))
        return
    ss.pop("ed_conflict", None)
    message = f"Saved A-{aid} version {version}."
    dropped = _not_carried_note(viewer, aid, version) if a is not None and version > expected else ""
    if submit:
        try:
            submit_for_review(store, viewer, aid, version)
            message = f"Saved version {version} and submitted A-{aid} for review."
        except AssessmentError as e:
            flash("warning", f"Saved version {version}, but not submitted: {e}{dropped}")
            open_assessment(aid)
            return
    flash("warning" if dropped else "success", message + dropped)
    open_assessment(aid)


def _not_carried_note(viewer: Viewer, aid: int, version: int) -> str:
    """What the saver is told about dissents the new version does not show: a count only, since those dissents
    stay on the version they were written on, for that version's readers ("" when there are none)."""
    dropped = reads.not_carried(session.cursor(), viewer, aid, version)
    if not dropped:
        return ""
    return (
        f" {dropped} dissent(s) on version {version - 1} were not carried to version {version}: its audience "
        "is wider than that of the version they were written on."
    )


def _save_controls(
    viewer: Viewer, today: date, a: Assessment | None, draft: AssessmentDraft, base_version: int
) -> None:
    st.text_input("Note for this version (optional)", key="ed_note", max_chars=200)
    if st.button("Save draft", type="primary", icon=":material/save:", width="stretch", key="ed_save"):
        _save(viewer, today, a, draft, base_version)
        st.rerun()
    can_submit = a is None or a.status in ("draft", "returned")
    if can_submit and st.button(
        "Save and submit for review", icon=":material/send:", width="stretch", key="ed_submit"
    ):
        _save(viewer, today, a, draft, base_version, submit=True)
        st.rerun()
    if a is not None:
        st.caption(
            f"Editing from version {base_version}. Saving makes version {base_version + 1}"
            + (" and clears sign-offs." if a.signoffs else ".")
            + (" In review, a save the checker blocks is refused." if a.status == "in_review" else "")
        )


def _draft_preview(d: AssessmentDraft) -> None:
    """A draft that is not saved (one side of a conflict): the parts people edit most."""
    st.text(d.title)
    if d.bluf:
        st.text(d.bluf)
    for n, j in enumerate(d.judgements, start=1):
        st.markdown(f"**{n}.** {inert_markdown(j.statement)}")
        st.markdown(judgement_estimate(j.term, j.confidence))


def _conflict_panel(viewer: Viewer, today: date, a: Assessment | None) -> None:
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
        _save(viewer, today, a, conflict.mine, conflict.theirs.version)
        st.rerun()
    if c2.button("Discard mine and load theirs", key="ed_take_theirs"):
        ss.pop("ed_conflict", None)
        ss["ed_loaded"] = None
        st.rerun()


# -- the form ---------------------------------------------------------------------------------------------------


def _form(today: date) -> None:
    st.text_input("Title", key="ed_title", max_chars=300)
    st.text_area("Question this assessment answers", key="ed_question", height=68)
    st.text_area("Bottom line up front", key="ed_bluf", height=90)
    keys = list(ss["ed_jkeys"])
    for n, k in enumerate(keys, start=1):
        _judgement_editor(today, n, k, len(keys))
    st.button("Add a key judgement", icon=":material/add:", on_click=_add_judgement)
    for attr, label in LINE_SECTIONS.items():
        st.text_area(label, key=f"ed_{attr}", height=90)
    if ss.get("ed_supersedes"):
        st.caption(f"Supersedes assessment A-{ss['ed_supersedes']}.")
    st.text_area("What changed since the last assessment", key="ed_changes", height=80)


def _judgement_editor(today: date, n: int, k: str, total: int) -> None:
    with st.container(border=True):
        head, up, down, remove = st.columns([8, 1, 1, 1], vertical_alignment="center")
        head.markdown(f"**Key judgement {n}**")
        move_buttons(
            up,
            down,
            keys=(f"ed_j_{k}_up", f"ed_j_{k}_down"),
            index=n - 1,
            count=total,
            on_move=_move_judgement,
            args=(k,),
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
        _estimate_inputs(k)
        st.text_area("Reasoning", key=f"ed_j_{k}_reasoning", height=80)
        _evidence_picker(today, k)


def _estimate_inputs(k: str) -> None:
    """The PHIA term (or a partner's ICD 203 term, translated), and the confidence level."""
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


def _evidence_picker(today: date, k: str) -> None:
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


# -- the side panel ---------------------------------------------------------------------------------------------


def _marking_controls(viewer: Viewer, today: date) -> AssessmentDraft:
    """The marking the evidence requires, the authors' floor and restrictions, and the marking that results.
    Returns the draft as the widgets now hold it (these controls are part of it)."""
    st.markdown("#### Marking")
    con = session.cursor()
    judgements = _draft_from_widgets().judgements
    try:
        floor = draft_marking(con, viewer, AssessmentDraft(title="", judgements=judgements), today)
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
            f"TLP:{floor.evidence_tlp if floor else '?'} (from evidence)" if not t else f"Raise to TLP:{t}"
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
    except AssessmentError:
        return draft  # already said above, with the floor
    marking_banner(derived.marking, "derived")
    if derived.tlp == "RED":
        st.caption(f"Named recipients: {inert_markdown(', '.join(derived.named_recipients) or 'nobody')}")
    return draft


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
