"""Comparing two versions of an assessment."""

from __future__ import annotations

from analytics.assessments.diff import compare_versions
from analytics.assessments.model import AssessmentDraft, EvidenceRef, JudgementDraft
from analytics.assessments.reads import list_versions
from analytics.assessments.workflow import save_version
from tests.analytics.assessments.samples import get
from tests.conftest import AU_ANALYST, UK_ANALYST


def test_compare_two_versions(joint) -> None:
    store, aid = joint
    v1 = get(store, UK_ANALYST, aid)
    j1, j2 = v1.judgements
    new = JudgementDraft(
        "Insurers will also be targeted.", "realistic possibility", "low", "New reports.", j1.evidence
    )
    edited = AssessmentDraft(
        title=v1.title,
        question=v1.question,
        bluf="It is highly likely to rise.",
        judgements=(
            JudgementDraft(
                "Agentic misuse against banks will rise sharply.",
                "highly likely",
                "high",
                j1.reasoning,
                j1.evidence,
                j1.key,
            ),
            new,
        ),
        assumptions=v1.assumptions,
        alternatives=v1.alternatives,
        indicators=v1.indicators,
    )
    save_version(store.store, AU_ANALYST, aid, edited, 1)
    d = compare_versions(store.cursor(), UK_ANALYST, aid, 1, 2)
    assert [(c.new_number, c.new) for c in d.added] == [(2, "Insurers will also be targeted.")]
    assert [(c.old_number, c.old) for c in d.removed] == [(2, j2.statement)]
    assert [(c.old, c.new) for c in d.reworded] == [
        ("Agentic misuse against banks will rise.", "Agentic misuse against banks will rise sharply.")
    ]
    assert [c.detail for c in d.term_changed] == ["likely → highly likely"]
    assert [c.detail for c in d.confidence_changed] == ["moderate → high confidence"]
    assert d.evidence_changed == () and d.reasoning_changed == ()
    assert d.sections_changed == ("bottom line up front",)
    assert not d.empty
    assert compare_versions(store.cursor(), UK_ANALYST, aid, 2, 2).empty
    assert [v.version for v in list_versions(store.cursor(), UK_ANALYST, aid)] == [2, 1]


def test_word_diff_marks_the_words_removed_and_added() -> None:
    from analytics.assessments.diff import word_diff

    assert word_diff("Reports rose every quarter.", "Reports doubled every quarter in 2026.") == (
        ("=", "Reports"),
        ("-", "rose"),
        ("+", "doubled"),
        ("=", "every"),
        ("-", "quarter."),
        ("+", "quarter in 2026."),
    )
    assert word_diff("same", "same") == (("=", "same"),)


def test_the_diff_carries_the_words_changed_and_the_evidence_ids_titles_and_markings(joint) -> None:
    from dataclasses import replace

    store, aid = joint
    v1 = get(store, UK_ANALYST, aid)
    j1, j2 = v1.to_draft().judgements
    extra = store.incident(title="Pension fund agent abused", tlp="AMBER")
    edited = replace(
        v1.to_draft(),
        assumptions=("Reporting rates stay level", "Banks keep reporting"),
        judgements=(
            replace(j1, reasoning="Reports from both institutes doubled every quarter."),
            replace(j2, evidence=(*j2.evidence, EvidenceRef("incident", extra))),
        ),
    )
    save_version(store.store, AU_ANALYST, aid, edited, 1)
    d = compare_versions(store.cursor(), UK_ANALYST, aid, 1, 2)
    [reason] = d.reasoning_changed
    assert (reason.old_text, reason.new_text) == (
        "Reports from both institutes rose every quarter.",
        "Reports from both institutes doubled every quarter.",
    )
    assert ("-", "rose") in reason.words and ("+", "doubled") in reason.words
    [ev] = d.evidence_changed
    assert [(e.ref.ref_id, e.label, e.tlp, e.releasable_to) for e in ev.added] == [
        (extra, f"{extra} · Pension fund agent abused", "AMBER", ("AU", "UK"))
    ]
    assert ev.removed == ()
    [section] = d.section_changes
    assert section.label == "assumptions" and ("+", "Banks keep reporting") in section.words
