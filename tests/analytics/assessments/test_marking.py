"""Marking derivation: pure rules, and the marking a saved assessment carries as its evidence changes."""

from __future__ import annotations

from analytics.assessments.checker import marking_findings
from analytics.assessments.marking import EvidenceMarking, derive_marking
from analytics.assessments.reads import list_approved
from analytics.assessments.workflow import create_assessment
from tests.analytics.assessments.samples import INC, approve, codes, draft, get, judgement, ref
from tests.conftest import AU_ANALYST, AU_LEAD, AU_POLICY, TODAY, UK_ANALYST, UK_POLICY


def em(tlp: str, rel=("AU", "UK"), named=(), orig="UK") -> EvidenceMarking:
    return EvidenceMarking(tlp, tuple(rel), tuple(named), orig)


def test_marking_is_highest_tlp_and_narrowest_releasability() -> None:
    m = derive_marking([em("GREEN"), em("AMBER", rel=("UK",)), em("CLEAR")], creator_institute="AU")
    assert (m.tlp, m.releasable_to, m.originator) == ("AMBER", ("UK",), "AU")
    assert derive_marking([], creator_institute="UK").marking.label == "TLP:CLEAR · releasable to AU and UK"


def test_authors_may_raise_the_marking_but_never_lower_it() -> None:
    evidence = [em("AMBER")]
    assert derive_marking(evidence, creator_institute="UK", raise_tlp="GREEN").tlp == "AMBER"
    raised = derive_marking(
        evidence, creator_institute="UK", raise_tlp="RED", named_recipients=["Lead@UK.example"]
    )
    assert (raised.tlp, raised.named_recipients, raised.evidence_tlp) == (
        "RED",
        ("lead@uk.example",),
        "AMBER",
    )
    assert derive_marking(evidence, creator_institute="UK", restrict_to=["UK"]).releasable_to == ("UK",)


def test_strict_evidence_keeps_the_assessment_in_its_originating_institute() -> None:
    m = derive_marking([em("GREEN"), em("AMBER+STRICT", orig="AU")], creator_institute="UK")
    assert (m.tlp, m.releasable_to, m.originator) == ("AMBER+STRICT", ("AU",), "AU")
    both = derive_marking(
        [em("AMBER+STRICT", orig="AU"), em("AMBER+STRICT", orig="UK")], creator_institute="UK"
    )
    assert both.releasable_to == ()
    assert codes(marking_findings(both)) == ["unreadable"]
    assert codes(marking_findings(m)) == ["single_institute"]


def test_red_recipients_are_those_named_on_every_red_record() -> None:
    m = derive_marking(
        [
            em("RED", named=("a@uk.example", "b@au.example", "c@uk.example")),
            em("RED", named=("b@au.example", "a@uk.example")),
        ],
        creator_institute="UK",
    )
    assert (m.tlp, m.named_recipients) == ("RED", ("a@uk.example", "b@au.example"))


def test_saved_marking_comes_from_the_cited_records(store) -> None:
    green = store.incident()
    amber = store.incident(tlp="AMBER", releasable_to=["UK", "AU"])
    run = store.eval_run(tlp="AMBER", releasable_to=["UK"], institute="UK")
    aid = create_assessment(
        store.store,
        UK_ANALYST,
        draft(judgement(evidence=(ref(INC, green), ref(INC, amber), ref("eval_run", run)))),
        today=TODAY,
    )
    a = get(store, UK_ANALYST, aid)
    assert a.marking.label == "TLP:AMBER · releasable to UK"
    assert (
        get(store, AU_ANALYST, aid) is None
    )  # an AU analyst cannot see the UK-only run, so not the assessment


def test_a_record_marked_up_later_hides_the_assessment_and_raises_its_banner(joint) -> None:
    store, aid = joint
    approve(store, aid)
    cited = next(e.ref_id for e in get(store, UK_POLICY, aid).judgements[0].evidence if e.kind == INC)
    with store.store.transaction() as con:
        con.execute(
            "update incidents set tlp = 'RED', named_recipients = ['lead@uk.example', 'policy@uk.example'] where id = ?",
            [cited],
        )
    assert get(store, AU_POLICY, aid) is None
    assert get(store, AU_LEAD, aid) is None
    assert list_approved(store.cursor(), AU_POLICY).data.empty
    a = get(store, UK_POLICY, aid)
    assert a.marking.tlp == "RED" and a.named_recipients == ("lead@uk.example", "policy@uk.example")
