"""The checker's blocks hold for every version after submission, not only at submission (issue 22, finding 11).

The red team submitted a clean draft, then saved a version in review whose judgement had no PHIA term and no
confidence level, and both leads approved it. Now a save in review that the checker blocks is refused (the block
and the judgement named, nothing saved), and sign-off checks the version being signed again, so a version that
reached review by any other path (a store written before this rule) cannot be approved either.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from analytics.assessments.model import (
    Assessment,
    AssessmentDraft,
    AssessmentError,
    EvidenceRef,
    JudgementDraft,
    WorkflowError,
)
from analytics.assessments.reads import get_assessment
from analytics.assessments.workflow import (
    create_assessment,
    return_for_changes,
    save_version,
    sign_off,
    submit_for_review,
)
from tests.conftest import AU_ANALYST, AU_LEAD, TODAY, UK_ANALYST, UK_LEAD, StoreBuilder


def _submitted(store: StoreBuilder) -> tuple[int, Assessment]:
    """A clean two-judgement assessment by the AU analyst, in review at version 1."""
    i1 = store.incident(title="Agent drained accounts")
    i2 = store.incident(title="Invoice agent hijacked", originator="AU")
    draft = AssessmentDraft(
        title="Agentic misuse in finance",
        question="Will it rise?",
        bluf="It is likely to rise.",
        judgements=(
            JudgementDraft(
                "Misuse will rise.", "likely", "moderate", "Reports rose.", (EvidenceRef("incident", i1),)
            ),
            JudgementDraft(
                "Kits will spread.", "highly likely", "low", "Forums.", (EvidenceRef("incident", i2),)
            ),
        ),
    )
    aid = create_assessment(store.store, AU_ANALYST, draft, today=TODAY)
    submit_for_review(store.store, AU_ANALYST, aid, 1)
    a = get_assessment(store.cursor(), AU_ANALYST, aid)
    assert a is not None and a.status == "in_review"
    return aid, a


def _versions(store: StoreBuilder, aid: int) -> int:
    return int(
        store.cursor()
        .execute("select count(*) from assessment_versions where assessment_id = ?", [aid])
        .fetchone()[0]
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"term": None}, "Judgement 2 has no probability term"),
        ({"confidence": None}, "Judgement 2 has no confidence level"),
    ],
)
def test_a_save_in_review_that_the_checker_blocks_is_refused_and_saves_nothing(
    store: StoreBuilder, change: dict[str, object], named: str
) -> None:
    aid, a = _submitted(store)
    d = a.to_draft()
    broken = replace(d, judgements=(d.judgements[0], replace(d.judgements[1], **change)))  # type: ignore[arg-type]
    with pytest.raises(AssessmentError) as refused:
        save_version(store.store, AU_ANALYST, aid, broken, 1, today=TODAY)
    assert named in str(refused.value)
    assert "nothing was saved" in str(refused.value).lower()
    assert _versions(store, aid) == 1
    now = get_assessment(store.cursor(), UK_LEAD, aid)
    assert now is not None and now.version == 1 and now.status == "in_review"
    # a save in review that the checker passes is still a save
    fixed = replace(d, judgements=(d.judgements[0], replace(d.judgements[1], confidence="high")))
    assert save_version(store.store, AU_ANALYST, aid, fixed, 1, today=TODAY) == 2


def test_a_save_in_review_that_leaves_only_one_institute_able_to_sign_is_refused(store: StoreBuilder) -> None:
    aid, a = _submitted(store)
    au_only = EvidenceRef("incident", store.incident(originator="AU", releasable_to=["AU"]))
    d = a.to_draft()
    narrowed = replace(d, judgements=(replace(d.judgements[0], evidence=(au_only,)), d.judgements[1]))
    with pytest.raises(AssessmentError, match="no UK lead can read it"):
        save_version(store.store, AU_ANALYST, aid, narrowed, 1, today=TODAY)
    assert _versions(store, aid) == 1


def test_drafts_and_returned_assessments_may_still_be_saved_unfinished(store: StoreBuilder) -> None:
    """Blocks apply once submitted; an author's work in progress is saved as it is (and checked at submission)."""
    aid, a = _submitted(store)
    return_for_changes(store.store, UK_LEAD, aid, 1, "Judgement 2 needs more.")
    d = a.to_draft()
    unfinished = replace(d, judgements=(d.judgements[0], replace(d.judgements[1], term=None)))
    assert save_version(store.store, AU_ANALYST, aid, unfinished, 1, today=TODAY) == 2
    with pytest.raises(WorkflowError, match="Judgement 2 has no probability term"):
        submit_for_review(store.store, AU_ANALYST, aid, 2)


def test_sign_off_checks_the_version_being_signed_again(store: StoreBuilder) -> None:
    """Defence in depth: a version in review that the checker blocks (written by a path that skipped the check,
    e.g. before this rule existed) is never signed off, by either lead, and nothing is recorded as signed."""
    aid, _ = _submitted(store)
    with store.store.transaction() as con:  # the state the red team reached through a save in review
        con.execute(
            "update assessment_judgements set term = null, confidence = null "
            "where assessment_id = ? and version = 1 and position = 2",
            [aid],
        )
    for lead in (UK_LEAD, AU_LEAD):
        with pytest.raises(WorkflowError) as refused:
            sign_off(store.store, lead, aid, 1)
        message = str(refused.value)
        assert "Judgement 2 has no probability term" in message, lead.email
        assert "Judgement 2 has no confidence level" in message, lead.email
    con = store.cursor()
    assert (
        con.execute("select count(*) from assessment_signoffs where assessment_id = ?", [aid]).fetchone()[0]
        == 0
    )
    status = con.execute("select status, approved_version from assessments where id = ?", [aid]).fetchone()
    assert status == ("in_review", None)
    assert not [
        json.loads(d)
        for (d,) in con.execute(
            "select detail from audit_log where action = 'sign off assessment' and object = ?",
            [f"assessment:{aid}"],
        ).fetchall()
    ]
    # the lead can still send it back to the authors
    return_for_changes(store.store, UK_LEAD, aid, 1, "Judgement 2 lost its estimate.")
    assert get_assessment(store.cursor(), UK_ANALYST, aid).status == "returned"  # type: ignore[union-attr]
