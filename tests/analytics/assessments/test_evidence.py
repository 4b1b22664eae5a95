"""Evidence on a real DuckDB store: what an author may cite and find, the editor's marking, pins at approval."""

from __future__ import annotations

from datetime import date

import pytest

from analytics import views
from analytics.access.viewer import AccessDenied
from analytics.assessments.evidence import (
    draft_marking,
    evidence_changed_count,
    pinned_evidence,
    search_evidence,
)
from analytics.assessments.model import AssessmentError
from analytics.assessments.workflow import create_assessment
from analytics.filters import Filters
from tests.analytics.assessments.samples import INC, approve, draft, get, judgement, ref
from tests.conftest import AU_ANALYST, AU_POLICY, TODAY, UK_ANALYST, UK_POLICY


def test_cannot_cite_a_record_you_may_not_see_and_the_refusal_reads_like_a_missing_one(store) -> None:
    hidden = store.incident(originator="UK", tlp="AMBER+STRICT", releasable_to=["UK", "AU"])
    with pytest.raises(AssessmentError) as refused:
        create_assessment(store.store, AU_ANALYST, draft(judgement(evidence=(ref(INC, hidden),))))
    with pytest.raises(AssessmentError) as missing:
        create_assessment(store.store, AU_ANALYST, draft(judgement(evidence=(ref(INC, "T-9999"),))))
    assert str(refused.value).replace(hidden, "ID") == str(missing.value).replace("T-9999", "ID")
    assert store.cursor().execute("select count(*) from assessments").fetchone()[0] == 0


def test_evidence_search_shows_only_what_the_author_may_see(store) -> None:
    store.incident(
        title="Agent fraud at a bank", originator="UK", tlp="AMBER+STRICT", releasable_to=["UK", "AU"]
    )
    shared = store.incident(title="Agent fraud at a lender", originator="UK")
    store.eval_run(model="Kestrel-2", tlp="AMBER", releasable_to=["UK"])
    au = search_evidence(store.cursor(), AU_ANALYST, "incident", "agent fraud", TODAY)
    uk = search_evidence(store.cursor(), UK_ANALYST, "incident", "agent fraud", TODAY)
    assert list(au["ref"]) == [f"incident:{shared}"]
    assert len(uk) == 2
    assert search_evidence(store.cursor(), AU_ANALYST, "eval_run", "kestrel", TODAY).empty
    assert len(search_evidence(store.cursor(), UK_ANALYST, "eval_run", "kestrel", TODAY)) == 1
    by_id = search_evidence(store.cursor(), AU_ANALYST, "incident", shared.lower(), TODAY)
    assert list(by_id["ref"]) == [f"incident:{shared}"]
    with pytest.raises(AccessDenied):
        search_evidence(store.cursor(), UK_POLICY, "incident", "agent", TODAY)


def test_saved_views_are_found_within_their_institute_and_cited_at_the_joint_audience(store) -> None:
    store.incident(category="Jailbreak")
    with store.store.transaction() as con:
        vid = views.save_view(con, UK_ANALYST, "Jailbreaks", "explorer", Filters(categories=("Jailbreak",)))
    found = search_evidence(store.cursor(), UK_ANALYST, "view", "jail", TODAY)
    assert list(found["ref"]) == [f"view:{vid}"]
    assert search_evidence(store.cursor(), AU_ANALYST, "view", "jail", TODAY).empty
    aid = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref("view", str(vid)),))), today=TODAY
    )
    a = get(store, UK_ANALYST, aid)
    # Cited alone, the view is drawn at the joint audience (tests/analytics/assessments/test_view_citation.py).
    assert a.marking.label == "TLP:GREEN · releasable to AU and UK"
    assert get(store, AU_ANALYST, aid) is not None


def test_approval_pins_evidence_and_the_page_can_tell_what_changed_since(joint) -> None:
    store, aid = joint
    approve(store, aid)
    a = get(store, UK_POLICY, aid)
    i1 = a.judgements[0].evidence[0]
    assert i1.kind == "eval_run" or i1.kind == INC
    pins = pinned_evidence(store.cursor(), UK_ANALYST, aid)
    assert [(p.ref.kind, p.changed) for p in pins] == [("eval_run", False), (INC, False), (INC, False)]
    inc = next(p for p in pins if p.pinned.get("title") == "Agent drained accounts")
    with store.store.transaction() as con:
        con.execute(
            "update incidents set title = 'Agent drained 40 accounts', severity = 5, tlp = 'AMBER' where id = ?",
            [inc.ref.ref_id],
        )
    after = {p.ref: p for p in pinned_evidence(store.cursor(), UK_ANALYST, aid)}
    changed = after[inc.ref]
    assert changed.changed_fields == ("title", "severity", "tlp")
    assert (changed.pinned["title"], changed.pinned["severity"], changed.marking.tlp) == (
        "Agent drained accounts",
        3,
        "GREEN",
    )
    assert sum(p.changed for p in after.values()) == 1
    assert evidence_changed_count(store.cursor(), AU_POLICY, aid) == 1
    # the approved text itself did not move; its banner rose with the evidence
    again = get(store, UK_POLICY, aid)
    assert again.judgements == a.judgements and again.marking.tlp == "AMBER"


def test_draft_marking_for_the_editor_banner(store) -> None:
    i = store.incident(tlp="AMBER")
    d = draft(judgement(evidence=(ref(INC, i),)), raise_tlp="GREEN")
    m = draft_marking(store.cursor(), UK_ANALYST, d, TODAY)
    assert (m.tlp, m.evidence_tlp, m.releasable_to) == ("AMBER", "AMBER", ("AU", "UK"))
    assert date.today() >= TODAY or True
