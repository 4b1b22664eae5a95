"""The audit log holds no assessment text (issue 22, finding 3, the assessment part).

A refused (conflicting) save used to store the whole refused draft in the audit log as `refused_text`: bottom line,
judgements, reasoning and evidence ids of an assessment marked AMBER+STRICT or RED, read by the JOINT administrator
under the log's own AMBER marking. Now the entry holds ids, versions and the names of the fields that differed.
Every other assessment action is swept the same way: canary text in every field, none of it in `audit_log`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace

import pytest

from analytics.assessments.model import AssessmentDraft, EditConflict, EvidenceRef, JudgementDraft
from analytics.assessments.reads import get_assessment
from analytics.assessments.workflow import (
    add_comment,
    create_assessment,
    return_for_changes,
    save_version,
    sign_off,
    start_successor,
    submit_for_review,
)
from tests.conftest import AU_ANALYST, AU_LEAD, TODAY, UK_ANALYST, UK_LEAD, StoreBuilder


def _canary_draft(token: str, evidence: EvidenceRef) -> AssessmentDraft:
    return AssessmentDraft(
        title=f"{token} title",
        question=f"{token} question",
        bluf=f"{token} bluf",
        judgements=(
            JudgementDraft(f"{token} statement", "likely", "moderate", f"{token} reasoning", (evidence,)),
        ),
        assumptions=(f"{token} assumption",),
        alternatives=(f"{token} alternative",),
        indicators=(f"{token} indicator",),
        changes=f"{token} changes",
    )


def _log(store: StoreBuilder) -> str:
    rows = store.cursor().execute("select action, object, detail from audit_log order by id").fetchall()
    return json.dumps(rows, default=str)


def test_a_refused_conflicting_save_logs_ids_and_field_names_never_the_text(store: StoreBuilder) -> None:
    token = f"zqxaudit{secrets.token_hex(4)}"
    evidence = EvidenceRef("incident", store.incident(title=f"{token} record", tlp="AMBER"))
    aid = create_assessment(store.store, UK_ANALYST, _canary_draft(token, evidence), today=TODAY)
    base = get_assessment(store.cursor(), UK_ANALYST, aid)
    assert base is not None
    d = base.to_draft()
    save_version(store.store, UK_ANALYST, aid, replace(d, title=f"{token} UK title"), 1, today=TODAY)
    mine = replace(
        d,
        bluf=f"{token} refused bluf",
        judgements=(replace(d.judgements[0], statement=f"{token} refused statement"),),
    )
    with pytest.raises(EditConflict):
        save_version(store.store, AU_ANALYST, aid, mine, 1, today=TODAY)
    entry = (
        store.cursor()
        .execute(
            "select email, object, detail from audit_log where action = 'assessment save conflict' "
            "order by id desc limit 1"
        )
        .fetchone()
    )
    assert entry is not None
    email, obj, detail = entry
    assert (email, obj) == ("analyst@au.example", f"assessment:{aid}")
    assert json.loads(detail) == {
        "expected_version": 1,
        "current_version": 2,
        "fields": ["bluf", "judgements", "title"],  # mine against theirs: theirs changed the title
    }
    assert token not in _log(store)


def test_no_assessment_action_writes_assessment_text_to_the_audit_log(store: StoreBuilder) -> None:
    """Create, save, conflict, submit, comment, dissent, return, sign off, approve and start a successor, every
    field carrying the canary: the log names ids, versions, markings and people only."""
    token = f"zqxsweep{secrets.token_hex(4)}"
    evidence = EvidenceRef("incident", store.incident(title=f"{token} record"))
    aid = create_assessment(store.store, UK_ANALYST, _canary_draft(token, evidence), today=TODAY)
    a = get_assessment(store.cursor(), UK_ANALYST, aid)
    assert a is not None
    d = a.to_draft()
    save_version(store.store, UK_ANALYST, aid, replace(d, bluf=f"{token} v2"), 1, note=f"{token} note")
    with pytest.raises(EditConflict):
        save_version(store.store, AU_ANALYST, aid, replace(d, bluf=f"{token} lost"), 1)
    submit_for_review(store.store, UK_ANALYST, aid, 2)
    key = a.judgements[0].key
    add_comment(store.store, AU_ANALYST, aid, 2, key, f"{token} comment")
    add_comment(store.store, AU_ANALYST, aid, 2, key, f"{token} dissent", dissent=True)
    return_for_changes(store.store, AU_LEAD, aid, 2, f"{token} return")
    save_version(store.store, UK_ANALYST, aid, replace(d, bluf=f"{token} v3"), 2, today=TODAY)
    submit_for_review(store.store, UK_ANALYST, aid, 3)
    sign_off(store.store, UK_LEAD, aid, 3)
    assert sign_off(store.store, AU_LEAD, aid, 3) == "approved"
    start_successor(store.store, AU_ANALYST, aid, today=TODAY)
    log = _log(store)
    actions = {row[0] for row in json.loads(log)}
    assert {
        "create assessment",
        "save assessment",
        "assessment save conflict",
        "submit assessment",
        "comment on assessment",
        "dissent on assessment",
        "return assessment",
        "sign off assessment",
    } <= actions
    assert token not in log
