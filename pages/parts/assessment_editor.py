"""The assessment editor of the Assessments page: fields, judgements, evidence picker, live marking and checker,
saving, and the conflict panel when someone else saved first.

The editor keeps its fields in session state under `ed_*` keys, loaded from one version; saving names that
version so a concurrent save by someone else comes back as a conflict instead of overwriting theirs. The conflict
panel shows the field-level three-way merge (analytics/assessments/merge.py): both sides' changes kept, each
conflicting field side by side with the differing words highlighted, theirs kept unless discarded field by field.
Stored text is only ever rendered escaped (inert_markdown), inside fixed highlight markup. The derived marking
stays in view at the top of the editor and in the sidebar. Every rule (the marking, what the checker flags, when a
save conflicts, how two edits merge, who can still sign) lives in analytics.assessments; this module only reads
widgets, calls it and renders.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import date
from typing import Any

import streamlit as st

from analytics import session
from analytics.access.markings import INSTITUTES, TLP_LEVELS, tlp_rank
from analytics.access.roles import SIGNERS
from analytics.access.viewer import Viewer
from analytics.assessments import reads, yardstick
from analytics.assessments.checker import Finding, blocking, check
from analytics.assessments.diff import Segment, word_diff
from analytics.assessments.evidence import draft_marking, evidence_info, search_evidence
from analytics.assessments.inbox import signers_left
from analytics.assessments.marking import DerivedMarking
from analytics.assessments.merge import FieldConflict, Merge, merge_conflict
from analytics.assessments.model import (
    EVIDENCE_KINDS,
    PROTECTIVE_MARKINGS,
    Assessment,
    AssessmentDraft,
    AssessmentError,
    EditConflict,
    EvidenceRef,
    JudgementDraft,
)
from analytics.assessments.workflow import create_assessment, save_version, submit_for_review
from analytics.export.briefing.content import protective_line
from analytics.wording import counted
from pages.ui import inert_markdown, marking_banner, move_buttons

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
    if ss.get("ed_raise") not in ("", *TLP_LEVELS):
        # The browser sends back the shown label of the "as derived" choice, which names the derived TLP and so
        # changes with the evidence: a label no longer offered means that choice.
        ss["ed_raise"] = ""
    _marking_in_view(viewer, today)
    if a is not None:
        _lead_edit_warning(viewer, a)
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
        _render_findings(check(session.cursor(), viewer, draft, a, today), draft)
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
    ss["ed_protective"] = d.protective
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
        protective=ss.get("ed_protective") or "OFFICIAL",
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
    note: str | None = None,
) -> None:
    """Save (and optionally submit) with the note typed for this version (or `note`); every outcome becomes a
    flash message or a conflict to resolve."""
    store = session.store()
    note = note if note is not None else str(ss.get("ed_note") or "")
    try:
        if a is None:
            aid, version = create_assessment(store, viewer, draft, note=note, today=today), 1
        else:
            aid, version = a.id, save_version(store, viewer, a.id, draft, expected, note=note, today=today)
    except EditConflict as conflict:
        ss["ed_conflict"] = conflict
        return
    except AssessmentError as e:
        flash("error", str(e))
        return
    ss.pop("ed_conflict", None)
    message = f"Saved A-{aid} version {version}."
    if a is not None and version <= expected:
        message = f"No changes to save: version {version} already holds them."
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
    one = dropped == 1
    return (
        f" {counted(dropped, 'dissent')} on version {version - 1} {'was' if one else 'were'} not carried to "
        f"version {version}: its audience is wider than that of the version {'it was' if one else 'they were'} "
        "written on."
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


_HIGHLIGHT = {"-": "red-background", "+": "green-background"}


def highlighted(segments: tuple[Segment, ...], show: tuple[str, ...] = ("=", "-", "+")) -> str:
    """Words of a word-level diff as Markdown: every word escaped (inert_markdown), removed words on red and
    added words on green inside fixed Streamlit highlight markup; never HTML."""
    parts = []
    for op, text in segments:
        if op in show:
            words = inert_markdown(text)
            parts.append(words if op == "=" else f":{_HIGHLIGHT[op]}[{words}]")
    return " ".join(parts) or "*(empty)*"


def _as_text(value: Any) -> str:
    """A conflicting value as words to compare: text, lines, a whole judgement (None: removed) or a choice."""
    if isinstance(value, JudgementDraft):
        return " ".join(
            x for x in (value.statement, value.term or "", value.confidence or "", value.reasoning) if x
        )
    if isinstance(value, tuple):
        return " · ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _conflict_field(c: FieldConflict, theirs_version: int) -> None:
    """One conflicting field: theirs and mine side by side, the words that differ highlighted."""
    words = word_diff(_as_text(c.mine), _as_text(c.theirs))
    with st.container(border=True):
        st.markdown(f"**{c.label}**")
        left, right = st.columns(2)
        left.caption(f"Theirs (version {theirs_version}), kept unless you discard it")
        left.markdown(highlighted(words, ("=", "+")) if c.theirs is not None else "*(removed)*")
        right.caption("Yours")
        right.markdown(highlighted(words, ("=", "-")) if c.mine is not None else "*(removed)*")
        st.checkbox("Discard theirs: use mine in this field", key=f"ed_discard_{c.path}")


def _kept(merge: Merge, paths: tuple[str, ...]) -> str:
    return ", ".join(dict.fromkeys(merge.labels.get(p, p) for p in paths))


def _conflict_panel(viewer: Viewer, today: date, a: Assessment | None) -> None:
    """The merge of a refused save: what was kept from each side, each conflicting field, and the choices."""
    conflict: EditConflict = ss["ed_conflict"]
    merge = merge_conflict(conflict)
    theirs_version = conflict.theirs.version
    st.warning(str(conflict), icon=":material/sync_problem:")
    if merge.kept_theirs:
        st.markdown(f"**Kept from version {theirs_version}:** {_kept(merge, merge.kept_theirs)}")
    if merge.kept_mine:
        st.markdown(f"**Kept from yours:** {_kept(merge, merge.kept_mine)}")
    if not merge.conflicts:
        st.markdown("**No conflicting fields**: every change of both sides is in the merge.")
    else:
        n = len(merge.conflicts)
        st.markdown(
            f"**{n} conflicting field{'s' if n != 1 else ''}**: both changed {'them' if n != 1 else 'it'}. "
            f"Version {theirs_version}'s text is kept unless you discard it."
        )
        for c in merge.conflicts:
            _conflict_field(c, theirs_version)
    discard = {c.path for c in merge.conflicts if ss.get(f"ed_discard_{c.path}")}
    merged = merge.resolve(discard_theirs=discard)
    c1, c2, c3 = st.columns(3)
    if c1.button(
        f"Save the merge as version {theirs_version + 1}",
        type="primary",
        key="ed_merge_save",
        width="stretch",
    ):
        note = str(ss.get("ed_note") or "").strip()
        merged_note = f"Merged with version {theirs_version}" + (f": {note}" if note else "")
        _save(viewer, today, a, merged, theirs_version, note=merged_note)
        st.rerun()
    if c2.button("Load the merge into the editor", key="ed_merge_load", width="stretch"):
        _load_editor(today, conflict.theirs, merged)
        st.rerun()
    if c3.button("Discard mine and load theirs", key="ed_take_theirs", width="stretch"):
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
    """The PHIA term (or a partner's ICD 203 term, translated), and the confidence level. The ICD pick and its
    caption hold only while the PHIA term is the one it translated to: choosing another term clears them."""
    icd = ss.get(f"ed_j_{k}_icd")
    if icd and ss.get(f"ed_j_{k}_term") != yardstick.icd_to_phia(icd).target.term:
        ss[f"ed_j_{k}_icd"] = None  # before the widget exists in this run
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
                it = "it" if len(found) == 1 else "them"
                st.caption(
                    f"{counted(len(found), 'match', 'matches')} you may see; add {it} in the list below."
                )
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
    # The picker's baseline is the marking the draft derives without a raise (evidence, releasability and the
    # rest of the marking rules), not the evidence's TLP alone, so it never shows less than the banner.
    required = _required_marking(con, viewer, today) if floor is not None else None
    base_tlp = max(
        (m for m in (floor.evidence_tlp if floor else None, required.tlp if required else None) if m),
        key=tlp_rank,
        default="?",
    )
    raise_options: list[str] = [""]
    if floor is not None:
        raise_options += [t for t in TLP_LEVELS if tlp_rank(t) > tlp_rank(base_tlp)]
    if ss.get("ed_raise") not in raise_options:
        ss["ed_raise"] = ""
    st.selectbox(
        "TLP",
        raise_options,
        format_func=lambda t: f"TLP:{base_tlp} (as derived)" if not t else f"Raise to TLP:{t}",
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
    st.selectbox(
        "Protective marking",
        list(PROTECTIVE_MARKINGS),
        format_func=protective_line,
        key="ed_protective",
        help="The government security classification beside the TLP, printed in both schemes' words in every "
        "header and footer of the briefings (docs/briefings.md has the mapping).",
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


def _required_marking(con: Any, viewer: Viewer, today: date) -> DerivedMarking | None:
    """The marking the draft as typed derives with no raise of the TLP (None when it cannot be derived)."""
    try:
        return draft_marking(con, viewer, replace(_draft_from_widgets(), raise_tlp=None), today)
    except AssessmentError:
        return None


def _marking_in_view(viewer: Viewer, today: date) -> None:
    """The marking this draft will carry, at the top of the editor and in the sidebar, so it stays in sight
    while the author scrolls through the judgements (the side panel scrolls away)."""
    try:
        derived = draft_marking(session.cursor(), viewer, _draft_from_widgets(), today)
    except AssessmentError:
        return  # the side panel says why
    marking_banner(derived.marking, "this draft will be marked")
    with st.sidebar:
        st.markdown("**Draft marking**")
        marking_banner(derived.marking, "this draft")


def _lead_edit_warning(viewer: Viewer, a: Assessment) -> None:
    """A lead who is not yet an author is told before saving when their save would leave nobody of their
    institute able to sign (an author never signs; workflow.sign_off)."""
    if viewer.role not in SIGNERS or viewer.email in a.authors or viewer.institute in a.signed_institutes:
        return
    left = session.query(signers_left, a.id, also_author=viewer.email)
    if left.get(viewer.institute, 1) == 0:
        st.warning(
            f"If you save, you become an author of A-{a.id} and can no longer sign it off, and no other "
            f"{viewer.institute} lead could: comment in Read and review instead, or ask an administrator to enrol "
            f"another {viewer.institute} lead.",
            icon=":material/how_to_reg:",
        )


def _render_findings(findings: list[Finding], draft: AssessmentDraft) -> None:
    if not findings:
        st.success("No problems found.", icon=":material/check_circle:")
        return
    errors = blocking(findings)
    st.caption(f"{len(errors)} blocking, {len(findings) - len(errors)} advice")
    for f in sorted(findings, key=lambda f: (f.severity != "error", f.judgement or 0)):
        where = f"Judgement {f.judgement} " if f.judgement else ""
        badge = ":red-badge[blocks submission]" if f.severity == "error" else ":orange-badge[advice]"
        st.markdown(f"{badge} {where}{f.message}")
    _render_highlights(findings, draft)


def _render_highlights(findings: list[Finding], draft: AssessmentDraft) -> None:
    """Each text with a finding in it, its problem words highlighted where they are."""
    spans: dict[tuple[int | None, str], list[tuple[int, int]]] = {}
    for f in findings:
        if f.field is not None and f.span is not None:
            spans.setdefault((f.judgement, f.field), []).append(f.span)
    for (n, field), where in sorted(spans.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1])):
        if n is None:
            text, label = draft.bluf, "**Bottom line**"
        elif 0 < n <= len(draft.judgements):
            text, label = getattr(draft.judgements[n - 1], field), f"**Judgement {n}** · {field}"
        else:
            continue
        marked = highlighted_markdown(text, where)
        if ":orange-background[" in marked:
            st.markdown(f"{label}: {marked}")


def highlighted_markdown(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` made inert (pages.ui.inert_markdown, piece by piece so the offsets hold) with highlight markup
    around each span only; a span over the whole text (no time frame) marks nothing. For st.markdown, never
    unsafe_allow_html."""

    def inert(piece: str) -> str:
        # inert_markdown trims and collapses whitespace: keep one space at each edge so words stay apart
        core = inert_markdown(piece)
        if not core:
            return " " if piece else ""
        return (" " if piece[0].isspace() else "") + core + (" " if piece[-1].isspace() else "")

    merged: list[list[int]] = []
    for start, end in sorted(s for s in spans if 0 <= s[0] < s[1] <= len(text) and s != (0, len(text))):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out += [inert(text[at:start]), f":orange-background[{inert(text[start:end]).strip()}]"]
        at = end
    out.append(inert(text[at:]))
    return "".join(out).strip()
