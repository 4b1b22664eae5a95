"""Who sees which assessment: policymakers and admins only approved ones, invisible ones look missing."""

from __future__ import annotations

import pytest

from analytics.access.viewer import AccessDenied
from analytics.assessments.model import NotFound
from analytics.assessments.reads import list_approved, list_assessments
from analytics.assessments.workflow import create_assessment, sign_off, submit_for_review
from tests.analytics.assessments.samples import INC, approve, draft, get, judgement, ref
from tests.conftest import ADMIN, AU_ANALYST, AU_LEAD, AU_POLICY, UK_ANALYST, UK_LEAD, UK_POLICY


def test_policymakers_and_admins_see_only_approved_assessments_they_are_cleared_for(store) -> None:
    shared = store.incident()
    red = store.incident(
        tlp="RED",
        named_recipients=["analyst@uk.example", "lead@uk.example", "lead@au.example", "policy@uk.example"],
    )
    open_one = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, shared),)), title="Open")
    )
    red_one = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, red),)), title="Red")
    )
    draft_only = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, shared),)), title="Draft")
    )
    for viewer in (UK_POLICY, AU_POLICY, ADMIN):
        assert get(store, viewer, open_one) is None
        assert list_approved(store.cursor(), viewer).data.empty
    approve(store, open_one)
    approve(store, red_one)
    assert get(store, UK_ANALYST, red_one).marking.tlp == "RED"

    def titles(viewer) -> list[str]:
        return sorted(list_approved(store.cursor(), viewer).data["title"])

    assert titles(UK_POLICY) == ["Open", "Red"]
    assert titles(AU_POLICY) == ["Open"]
    assert titles(ADMIN) == ["Open"]
    assert get(store, AU_POLICY, red_one) is None
    assert get(store, AU_POLICY, draft_only) is None
    assert get(store, AU_POLICY, open_one).title == "Open"
    assert get(store, AU_POLICY, open_one, version=1).version == 1
    with pytest.raises(AccessDenied):
        list_assessments(store.cursor(), AU_POLICY)
    # analysts see drafts in the workspace list; the RED one only if named
    listed = list_assessments(store.cursor(), AU_ANALYST).data
    assert sorted(listed["title"]) == ["Draft", "Open"]
    assert list_assessments(store.cursor(), AU_ANALYST).marking.label == "TLP:GREEN · releasable to AU and UK"


def test_list_says_what_awaits_my_sign_off(joint) -> None:
    store, aid = joint
    submit_for_review(store.store, UK_ANALYST, aid, 1)

    def awaiting(viewer) -> bool:
        df = list_assessments(store.cursor(), viewer).data
        return bool(df.loc[df["id"] == aid, "awaiting_me"].iloc[0])

    assert awaiting(UK_LEAD) and awaiting(AU_LEAD)
    assert not awaiting(UK_ANALYST)
    sign_off(store.store, UK_LEAD, aid, 1)
    assert not awaiting(UK_LEAD) and awaiting(AU_LEAD)
    row = list_assessments(store.cursor(), UK_ANALYST).data.iloc[0]
    assert (row["status"], list(row["signed_by"]), list(row["authors"])) == (
        "in_review",
        ["UK"],
        ["Priya Shah"],
    )


def test_unknown_and_invisible_assessments_look_the_same(store) -> None:
    hidden_ev = store.incident(tlp="AMBER", releasable_to=["UK"])
    aid = create_assessment(store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, hidden_ev),))))
    with pytest.raises(NotFound) as hidden:
        submit_for_review(store.store, AU_ANALYST, aid, 1)
    with pytest.raises(NotFound) as missing:
        submit_for_review(store.store, AU_ANALYST, 999, 1)
    assert str(hidden.value).replace(str(aid), "N") == str(missing.value).replace("999", "N")
