"""The three-way merge of two edits of one assessment version: known answers over every field."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analytics.assessments.merge import merge_conflict, merge_drafts
from analytics.assessments.model import AssessmentDraft, EditConflict, EvidenceRef, JudgementDraft
from analytics.assessments.workflow import save_version
from tests.analytics.assessments.samples import INC, get
from tests.conftest import AU_ANALYST, UK_ANALYST


def ev(*ids: str) -> tuple[EvidenceRef, ...]:
    return tuple(EvidenceRef("incident", i) for i in ids)


BASE = AssessmentDraft(
    title="Agent misuse",
    question="Will it rise?",
    bluf="It is likely to rise.",
    judgements=(
        JudgementDraft("Misuse will rise.", "likely", "moderate", "Reports rose.", ev("A", "B"), key="j1"),
        JudgementDraft("Insurers follow.", "unlikely", "low", "Few reports.", ev("C"), key="j2"),
    ),
    assumptions=("Reporting stays level", "No new regulation"),
    alternatives=("A reporting artefact",),
    indicators=("Fewer bank reports",),
    changes="",
)


def judgement(d: AssessmentDraft, key: str) -> JudgementDraft:
    return next(j for j in d.judgements if j.key == key)


def edit_judgement(d: AssessmentDraft, key: str, **kw) -> AssessmentDraft:
    return replace(d, judgements=tuple(replace(j, **kw) if j.key == key else j for j in d.judgements))


def test_non_conflicting_changes_of_both_sides_are_kept() -> None:
    mine = replace(BASE, bluf="It is highly likely to rise.", assumptions=(*BASE.assumptions, "Banks report"))
    theirs = edit_judgement(BASE, "j1", reasoning="Reports rose every quarter in both institutes.")
    theirs = replace(theirs, indicators=("Fewer bank reports", "Kits sold openly"), changes="First update.")
    m = merge_drafts(BASE, mine, theirs)
    assert m.conflicts == ()
    d = m.resolve()
    assert d.bluf == "It is highly likely to rise."
    assert judgement(d, "j1").reasoning == "Reports rose every quarter in both institutes."
    assert d.assumptions == ("Reporting stays level", "No new regulation", "Banks report")
    assert d.indicators == ("Fewer bank reports", "Kits sold openly")
    assert d.changes == "First update."
    assert sorted(m.kept_mine) == ["assumptions", "bluf"]
    assert sorted(m.kept_theirs) == ["changes", "indicators", "judgement.j1.reasoning"]


def test_a_conflict_keeps_theirs_unless_discarded() -> None:
    mine = edit_judgement(replace(BASE, title="My title"), "j1", reasoning="My reasoning.")
    theirs = edit_judgement(
        replace(BASE, title="Their title"), "j1", reasoning="Their reasoning.", term="highly likely"
    )
    m = merge_drafts(BASE, mine, theirs)
    assert [(c.path, c.label) for c in m.conflicts] == [
        ("title", "Title"),
        ("judgement.j1.reasoning", "Judgement 1 · reasoning"),
    ]
    c = m.conflicts[1]
    assert (c.base, c.mine, c.theirs) == ("Reports rose.", "My reasoning.", "Their reasoning.")
    kept = m.resolve()
    assert kept.title == "Their title"
    assert judgement(kept, "j1").reasoning == "Their reasoning."
    assert judgement(kept, "j1").term == "highly likely"  # theirs only: no conflict
    discarded = m.resolve(discard_theirs={"judgement.j1.reasoning"})
    assert discarded.title == "Their title"
    assert judgement(discarded, "j1").reasoning == "My reasoning."
    assert judgement(discarded, "j1").term == "highly likely"
    with pytest.raises(ValueError, match="no conflict 'bluf'"):
        m.resolve(discard_theirs={"bluf"})


def test_evidence_lists_merge_as_sets_with_both_sides_additions_and_removals() -> None:
    mine = edit_judgement(BASE, "j1", evidence=ev("A", "D"))  # removed B, added D
    theirs = edit_judgement(BASE, "j1", evidence=ev("B", "A", "E"))  # added E (reordered)
    m = merge_drafts(BASE, mine, theirs)
    assert m.conflicts == ()
    assert set(judgement(m.resolve(), "j1").evidence) == set(ev("A", "D", "E"))


def test_judgements_added_by_both_sides_and_removed_by_one_are_merged() -> None:
    new_mine = JudgementDraft("Pension funds next.", "realistic possibility", "low", "", (), key="m1")
    new_theirs = JudgementDraft("Kits get cheaper.", "likely", "moderate", "", (), key="t1")
    mine = replace(BASE, judgements=(*BASE.judgements, new_mine))
    theirs = replace(BASE, judgements=(BASE.judgements[0], new_theirs))  # removed j2, added t1
    m = merge_drafts(BASE, mine, theirs)
    assert m.conflicts == ()
    assert [j.key for j in m.resolve().judgements] == ["j1", "t1", "m1"]


def test_removing_a_judgement_the_other_side_changed_is_a_conflict() -> None:
    mine = replace(BASE, judgements=(BASE.judgements[0],))  # removed j2
    theirs = edit_judgement(BASE, "j2", statement="Insurers follow within a year.")
    m = merge_drafts(BASE, mine, theirs)
    assert [c.path for c in m.conflicts] == ["judgement.j2"]
    assert [j.key for j in m.resolve().judgements] == ["j1", "j2"]  # their change kept
    assert judgement(m.resolve(), "j2").statement == "Insurers follow within a year."
    assert [j.key for j in m.resolve(discard_theirs={"judgement.j2"}).judgements] == ["j1"]


def test_line_sections_conflict_only_where_both_changed_the_same_line() -> None:
    mine = replace(BASE, assumptions=("Reporting stays roughly level", "No new regulation"))
    theirs = replace(BASE, assumptions=("Reporting stays level", "No new regulation in 2027"))
    m = merge_drafts(BASE, mine, theirs)
    assert m.conflicts == ()
    assert m.resolve().assumptions == ("Reporting stays roughly level", "No new regulation in 2027")
    clash = replace(BASE, assumptions=("Reporting halves", "No new regulation"))
    m = merge_drafts(BASE, mine, clash)
    assert [c.path for c in m.conflicts] == ["assumptions"]
    assert m.resolve().assumptions == ("Reporting halves", "No new regulation")


def test_both_sides_making_the_same_change_is_no_conflict() -> None:
    same = replace(BASE, title="Agreed title")
    m = merge_drafts(BASE, same, same)
    assert m.conflicts == () and m.resolve().title == "Agreed title"


def test_without_a_base_every_difference_is_a_conflict() -> None:
    mine = replace(BASE, title="Mine")
    m = merge_drafts(None, mine, BASE)
    assert [c.path for c in m.conflicts] == ["title"]
    assert m.resolve().title == "Agent misuse"


def test_a_conflicting_save_carries_the_version_both_started_from(joint) -> None:
    """The finding: one analyst edits judgement 1's reasoning, the other the bottom line; the merge keeps both."""
    store, aid = joint
    base = get(store, UK_ANALYST, aid).to_draft()
    key = base.judgements[0].key
    save_version(store.store, UK_ANALYST, aid, edit_judgement(base, key, reasoning="UK reasoning."), 1)
    mine = replace(base, bluf="AU bottom line.")
    with pytest.raises(EditConflict) as raised:
        save_version(store.store, AU_ANALYST, aid, mine, 1)
    conflict = raised.value
    assert conflict.base is not None and conflict.base.version == 1
    m = merge_conflict(conflict)
    assert m.conflicts == ()
    assert save_version(store.store, AU_ANALYST, aid, m.resolve(), conflict.theirs.version) == 3
    saved = get(store, UK_ANALYST, aid)
    assert saved.bluf == "AU bottom line." and saved.judgements[0].reasoning == "UK reasoning."
    assert [e.kind for e in saved.judgements[0].evidence] == sorted(
        e.kind for e in base.judgements[0].evidence
    )
    assert INC in {e.kind for e in saved.judgements[0].evidence}


def _changed(value):
    if isinstance(value, str):
        return value + " (edited)"
    if isinstance(value, tuple):
        return (*value, "added line")
    return 7 if value is None else value


def test_no_field_is_forgotten_a_change_to_any_field_by_either_side_survives() -> None:
    """Every field of the draft and of a judgement, including ones added later, takes the one side's change."""
    from dataclasses import fields

    for f in fields(AssessmentDraft):
        if f.name == "judgements" or _changed(getattr(BASE, f.name)) == getattr(BASE, f.name):
            continue
        edited = replace(BASE, **{f.name: _changed(getattr(BASE, f.name))})
        for mine, theirs in ((edited, BASE), (BASE, edited)):
            m = merge_drafts(BASE, mine, theirs)
            assert m.conflicts == () and getattr(m.resolve(), f.name) == getattr(edited, f.name), f.name
    for f in fields(JudgementDraft):
        if f.name in ("key", "evidence") or _changed(getattr(BASE.judgements[0], f.name)) == getattr(
            BASE.judgements[0], f.name
        ):
            continue
        edited = edit_judgement(BASE, "j1", **{f.name: _changed(getattr(BASE.judgements[0], f.name))})
        for mine, theirs in ((edited, BASE), (BASE, edited)):
            got = judgement(merge_drafts(BASE, mine, theirs).resolve(), "j1")
            assert getattr(got, f.name) == getattr(judgement(edited, "j1"), f.name), f.name
