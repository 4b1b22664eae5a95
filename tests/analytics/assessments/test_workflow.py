"""The workflow on a real DuckDB store: sign-off rules, conflicts, races, review, comments, successors."""

from __future__ import annotations

import json
import threading

import pytest

from analytics.access.viewer import AccessDenied
from analytics.assessments.model import (
    AssessmentDraft,
    AssessmentError,
    EditConflict,
    NotFound,
    WorkflowError,
)
from analytics.assessments.reads import latest_approved, list_versions
from analytics.assessments.workflow import (
    add_comment,
    create_assessment,
    return_for_changes,
    save_version,
    sign_off,
    start_successor,
    submit_for_review,
)
from tests.analytics.assessments.samples import INC, approve, draft, get, judgement, ref
from tests.conftest import (
    ADMIN,
    AU_ANALYST,
    AU_LEAD,
    AU_POLICY,
    TODAY,
    UK_ANALYST,
    UK_LEAD,
    UK_POLICY,
    StoreBuilder,
)


def test_nobody_approves_their_own_draft(store) -> None:
    i = store.incident()
    aid = create_assessment(store.store, UK_LEAD, draft(judgement(evidence=(ref(INC, i),))))
    submit_for_review(store.store, UK_LEAD, aid, 1)
    with pytest.raises(WorkflowError, match="cannot approve it"):
        sign_off(store.store, UK_LEAD, aid, 1)
    # nor does a lead who edited a later version
    aid2 = create_assessment(store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, i),))))
    save_version(store.store, AU_LEAD, aid2, draft(judgement(evidence=(ref(INC, i),)), title="Retitled"), 1)
    submit_for_review(store.store, UK_ANALYST, aid2, 2)
    with pytest.raises(WorkflowError, match="cannot approve it"):
        sign_off(store.store, AU_LEAD, aid2, 2)


def test_approval_needs_a_lead_of_each_institute(joint) -> None:
    store, aid = joint
    submit_for_review(store.store, UK_ANALYST, aid, 1)
    assert sign_off(store.store, UK_LEAD, aid, 1) == "in_review"
    a = get(store, UK_ANALYST, aid)
    assert (a.status, a.signed_institutes, a.approved_version) == ("in_review", ("UK",), None)
    with pytest.raises(WorkflowError, match="already signed"):
        sign_off(store.store, UK_LEAD, aid, 1)
    assert get(store, UK_POLICY, aid) is None
    assert sign_off(store.store, AU_LEAD, aid, 1) == "approved"
    a = get(store, UK_ANALYST, aid)
    assert (a.status, a.signed_institutes, a.approved_version) == ("approved", ("AU", "UK"), 1)


def test_only_leads_sign_off_and_only_in_review(joint) -> None:
    store, aid = joint
    with pytest.raises(WorkflowError, match="in review"):
        sign_off(store.store, AU_LEAD, aid, 1)
    submit_for_review(store.store, UK_ANALYST, aid, 1)
    with pytest.raises(AccessDenied):
        sign_off(store.store, AU_ANALYST, aid, 1)
    with pytest.raises(AccessDenied):
        sign_off(store.store, AU_POLICY, aid, 1)


def test_an_edit_after_a_sign_off_makes_a_new_version_and_clears_sign_offs(joint) -> None:
    store, aid = joint
    submit_for_review(store.store, UK_ANALYST, aid, 1)
    sign_off(store.store, UK_LEAD, aid, 1)
    edited = replace_title(
        get(store, UK_ANALYST, aid).to_draft(), "Agentic AI misuse in finance, 2027 (revised)"
    )
    assert save_version(store.store, UK_ANALYST, aid, edited, 1) == 2
    a = get(store, AU_LEAD, aid)
    assert (a.version, a.status, a.signoffs) == (2, "in_review", ())
    # the old sign-off is history, not approval: AU alone does not approve version 2
    with pytest.raises(WorkflowError, match="saved after you opened version 1"):
        sign_off(store.store, AU_LEAD, aid, 1)
    assert sign_off(store.store, AU_LEAD, aid, 2) == "in_review"
    assert sign_off(store.store, UK_LEAD, aid, 2) == "approved"
    audit = (
        store.cursor()
        .execute("select detail from audit_log where action = 'save assessment' order by id desc limit 1")
        .fetchone()[0]
    )
    assert json.loads(audit)["signoffs_cleared"] == ["lead@uk.example"]


def replace_title(d: AssessmentDraft, title: str) -> AssessmentDraft:
    from dataclasses import replace

    return replace(d, title=title)


def test_the_second_of_two_saves_from_the_same_version_gets_a_conflict_and_nothing_is_lost(joint) -> None:
    store, aid = joint
    base = get(store, UK_ANALYST, aid).to_draft()
    save_version(store.store, UK_ANALYST, aid, replace_title(base, "UK edit"), 1)
    mine = replace_title(base, "AU edit")
    with pytest.raises(EditConflict) as conflict:
        save_version(store.store, AU_ANALYST, aid, mine, 1)
    assert conflict.value.theirs.title == "UK edit" and conflict.value.theirs.version == 2
    assert conflict.value.mine.title == "AU edit"
    assert "Version 2 was saved by analyst@uk.example after you opened version 1" in str(conflict.value)
    logged = (
        store.cursor()
        .execute("select email, detail from audit_log where action = 'assessment save conflict'")
        .fetchone()
    )
    assert logged[0] == "analyst@au.example"
    # the log keeps ids and the names of the fields that differ, never the refused text (it stays in the editor)
    assert json.loads(logged[1]) == {"expected_version": 1, "current_version": 2, "fields": ["title"]}
    # the author re-saves on top of the version they now know about; both texts are kept as versions
    assert save_version(store.store, AU_ANALYST, aid, mine, 2) == 3
    titles = [get(store, UK_ANALYST, aid, version=v).title for v in (1, 2, 3)]
    assert titles == ["Agentic AI misuse in finance, 2027", "UK edit", "AU edit"]


def race(*calls) -> list[object]:
    """Run the calls in threads released together; each result is its return value or the exception raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(k: int) -> None:
        barrier.wait()
        try:
            results[k] = calls[k]()
        except Exception as e:  # the test asserts on what came back
            results[k] = e

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.parametrize("attempt", range(4))
def test_truly_concurrent_saves_one_wins_one_conflicts(joint, attempt: int) -> None:
    """However the two sessions interleave, exactly one save lands and the other gets both texts back."""
    store, aid = joint
    base = get(store, UK_ANALYST, aid).to_draft()
    results = race(
        lambda: save_version(store.store, UK_ANALYST, aid, replace_title(base, "UK edit"), 1),
        lambda: save_version(store.store, AU_ANALYST, aid, replace_title(base, "AU edit"), 1),
    )
    assert sorted(type(r).__name__ for r in results) == ["EditConflict", "int"], results
    conflict = next(r for r in results if isinstance(r, EditConflict))
    assert conflict.mine.title in ("UK edit", "AU edit")
    current = get(store, UK_ANALYST, aid)
    assert current.version == 2 and current.title != conflict.mine.title
    assert [v.version for v in list_versions(store.cursor(), UK_ANALYST, aid)] == [2, 1]


@pytest.mark.parametrize("attempt", range(3))
def test_two_leads_signing_at_once_still_approve(joint, attempt: int) -> None:
    store, aid = joint
    submit_for_review(store.store, UK_ANALYST, aid, 1)
    results = race(
        lambda: sign_off(store.store, UK_LEAD, aid, 1),
        lambda: sign_off(store.store, AU_LEAD, aid, 1),
    )
    assert sorted(results) == ["approved", "in_review"], results
    a = get(store, UK_POLICY, aid)
    assert (a.status, a.signed_institutes) == ("approved", ("AU", "UK"))


def test_submit_is_blocked_by_checker_errors(store) -> None:
    i = store.incident()
    aid = create_assessment(store.store, UK_ANALYST, draft(judgement(term=None, evidence=(ref(INC, i),))))
    with pytest.raises(WorkflowError, match="no probability term"):
        submit_for_review(store.store, UK_ANALYST, aid, 1)
    assert get(store, UK_ANALYST, aid).status == "draft"


def test_return_with_comments_then_resubmit(joint) -> None:
    store, aid = joint
    submit_for_review(store.store, UK_ANALYST, aid, 1)
    sign_off(store.store, UK_LEAD, aid, 1)
    with pytest.raises(AssessmentError):
        return_for_changes(store.store, AU_LEAD, aid, 1, "  ")
    return_for_changes(store.store, AU_LEAD, aid, 1, "Judgement 2 needs the AU reporting.")
    a = get(store, UK_ANALYST, aid)
    assert a.status == "returned"
    assert [(c.kind, c.email, c.body) for c in a.comments] == [
        ("return", "lead@au.example", "Judgement 2 needs the AU reporting.")
    ]
    assert save_version(store.store, UK_ANALYST, aid, a.to_draft(), 1) == 1  # no change, no new version
    save_version(store.store, UK_ANALYST, aid, replace_title(a.to_draft(), "With AU reporting"), 1, note="AU")
    submit_for_review(store.store, UK_ANALYST, aid, 2)
    assert get(store, UK_ANALYST, aid).status == "in_review"


def test_comments_per_judgement_and_dissent_stays_in_the_approved_text(joint) -> None:
    store, aid = joint
    a = get(store, UK_ANALYST, aid)
    j2 = a.judgements[1].key
    add_comment(store.store, AU_LEAD, aid, 1, j2, "Cite the AU intrusion set too.")
    add_comment(
        store.store, AU_ANALYST, aid, 1, j2, "AU assesses this as a realistic possibility.", dissent=True
    )
    with pytest.raises(NotFound):
        add_comment(store.store, AU_LEAD, aid, 1, "nope", "x")
    approve(store, aid)
    approved = get(store, AU_POLICY, aid)
    assert approved.judgements[0].dissents == ()
    assert [(d.name, d.body) for d in approved.judgements[1].dissents] == [
        ("Liam Nguyen", "AU assesses this as a realistic possibility.")
    ]
    with pytest.raises(WorkflowError):
        add_comment(store.store, AU_ANALYST, aid, 1, j2, "late", dissent=True)


def test_approved_assessments_are_final_and_successors_supersede_them(joint) -> None:
    store, aid = joint
    approve(store, aid)
    with pytest.raises(WorkflowError, match="final"):
        save_version(store.store, UK_ANALYST, aid, get(store, UK_ANALYST, aid).to_draft(), 1)
    nxt = start_successor(store.store, AU_ANALYST, aid, today=TODAY)
    succ = get(store, AU_ANALYST, nxt)
    assert (succ.supersedes, succ.status, len(succ.judgements)) == (aid, "draft", 2)
    assert list(latest_approved(store.cursor(), UK_POLICY, 5).data["id"]) == [aid]
    approve_as(store, nxt, author=AU_ANALYST)
    assert list(latest_approved(store.cursor(), UK_POLICY, 5).data["id"]) == [nxt]
    assert get(store, UK_POLICY, aid).superseded_by == nxt


def approve_as(store: StoreBuilder, aid: int, author) -> None:
    a = get(store, author, aid)
    submit_for_review(store.store, author, aid, a.version)
    sign_off(store.store, UK_LEAD, aid, a.version)
    sign_off(store.store, AU_LEAD, aid, a.version)


def test_writes_are_role_checked_and_audited(joint) -> None:
    store, aid = joint
    with pytest.raises(AccessDenied):
        create_assessment(store.store, UK_POLICY, draft())
    with pytest.raises(AccessDenied):
        save_version(store.store, ADMIN, aid, draft(), 1)
    approve(store, aid)
    actions = [
        r[0]
        for r in store.cursor()
        .execute(
            "select action || ' by ' || email from audit_log where object = ? order by id",
            [f"assessment:{aid}"],
        )
        .fetchall()
    ]
    assert actions == [
        "create assessment by analyst@uk.example",
        "refused by admin@joint.example",
        "submit assessment by analyst@uk.example",
        "sign off assessment by lead@uk.example",
        "sign off assessment by lead@au.example",
    ]


def test_unchanged_judgements_keep_their_last_edit_time(joint) -> None:
    store, aid = joint
    v1 = get(store, UK_ANALYST, aid)
    d = v1.to_draft()
    from dataclasses import replace

    changed = replace(d, judgements=(d.judgements[0], replace(d.judgements[1], confidence="high")))
    save_version(store.store, AU_ANALYST, aid, changed, 1)
    v2 = get(store, UK_ANALYST, aid)
    assert v2.judgements[0].edited_at == v1.judgements[0].edited_at
    assert v2.judgements[0].edited_by == "analyst@uk.example"
    assert v2.judgements[1].edited_by == "analyst@au.example"
    assert v2.authors == ("analyst@uk.example", "analyst@au.example")


def test_the_saver_must_stay_cleared_for_their_own_assessment(store) -> None:
    i = store.incident()
    with pytest.raises(AssessmentError, match="could not read your own"):
        create_assessment(
            store.store,
            UK_ANALYST,
            draft(judgement(evidence=(ref(INC, i),)), raise_tlp="RED", named_recipients=("lead@au.example",)),
        )
