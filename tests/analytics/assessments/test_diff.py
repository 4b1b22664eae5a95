"""Comparing two versions of an assessment."""

from __future__ import annotations

from analytics.assessments.diff import compare_versions
from analytics.assessments.model import AssessmentDraft, JudgementDraft
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
