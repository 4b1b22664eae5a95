"""Version notes, the inbox and who is left to sign (issue 18: findings 2 and 8) on a real DuckDB store."""

from __future__ import annotations

from dataclasses import replace

from analytics.assessments.inbox import inbox, signers_left
from analytics.assessments.reads import list_versions
from analytics.assessments.workflow import (
    create_assessment,
    return_for_changes,
    save_version,
    sign_off,
    submit_for_review,
)
from tests.analytics.assessments.samples import INC, draft, get, judgement, ref
from tests.conftest import AU_ANALYST, AU_LEAD, UK_ANALYST, UK_LEAD


def test_version_notes_are_saved_with_each_version(store) -> None:
    i = store.incident()
    aid = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, i),))), note="First cut for the AU desk"
    )
    d = get(store, UK_ANALYST, aid).to_draft()
    save_version(
        store.store, AU_ANALYST, aid, replace(d, bluf="It is highly likely to rise."), 1, note="  Raised  "
    )
    notes = [(v.version, v.note) for v in list_versions(store.cursor(), UK_ANALYST, aid)]
    assert notes == [(2, "Raised"), (1, "First cut for the AU desk")]
    other = create_assessment(store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, i),))))
    assert [v.note for v in list_versions(store.cursor(), UK_ANALYST, other)] == ["created"]


def test_the_inbox_lists_sign_offs_waiting_and_drafts_returned(joint) -> None:
    store, aid = joint
    assert inbox(store.cursor(), AU_LEAD).empty
    submit_for_review(store.store, UK_ANALYST, aid, 1)
    [waiting] = inbox(store.cursor(), AU_LEAD).waiting_for_signoff
    assert (waiting.assessment_id, waiting.version, waiting.title) == (
        aid,
        1,
        "Agentic AI misuse in finance, 2027",
    )
    assert inbox(store.cursor(), UK_ANALYST).empty  # analysts do not sign
    sign_off(store.store, AU_LEAD, aid, 1)
    assert inbox(store.cursor(), AU_LEAD).empty  # their institute has signed
    assert [w.assessment_id for w in inbox(store.cursor(), UK_LEAD).waiting_for_signoff] == [aid]
    return_for_changes(store.store, UK_LEAD, aid, 1, "Cite the AU reporting.")
    [back] = inbox(store.cursor(), UK_ANALYST).returned_to_you
    assert (back.assessment_id, back.by) == (aid, UK_LEAD.name)  # who returned it
    assert inbox(store.cursor(), AU_ANALYST).returned_to_you == ()  # not an author of it
    assert inbox(store.cursor(), UK_LEAD).empty


def test_signers_left_counts_leads_who_could_still_sign(store) -> None:
    i = store.incident()
    aid = create_assessment(store.store, UK_LEAD, draft(judgement(evidence=(ref(INC, i),))))
    assert signers_left(store.cursor(), UK_ANALYST, aid) == {"UK": 0, "AU": 1}
    # an AU lead about to save would leave no AU lead to sign either
    assert signers_left(store.cursor(), AU_LEAD, aid, also_author=AU_LEAD.email) == {"UK": 0, "AU": 0}
    other = create_assessment(store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, i),))))
    assert signers_left(store.cursor(), UK_ANALYST, other) == {"UK": 1, "AU": 1}
    # a lead who may not read the current version cannot sign it
    uk_only = store.incident(releasable_to=["UK"])
    d = get(store, UK_ANALYST, other).to_draft()
    save_version(
        store.store, UK_ANALYST, other, draft(judgement(evidence=(ref(INC, uk_only),)), title=d.title), 1
    )
    assert signers_left(store.cursor(), UK_ANALYST, other) == {"UK": 1, "AU": 0}
